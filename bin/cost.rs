//! `apuntador-cost`: the Lambda-vs-Fargate cost report (SPEC §12.4) from measured figures and a price
//! table. Reads the files, runs `apuntador::cost`, writes `cost-report.md` and `cost-chart.svg`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use apuntador::cost::{Assumptions, CostError, CostModel, Measurements, Prices, chart, report};

const USAGE: &str = "\
apuntador-cost — monthly cost of apuntador on AWS Lambda and ECS Fargate, from measured figures

USAGE:
    apuntador-cost --measurements FILE [--prices FILE] [--out DIR]
    apuntador-cost --help

OPTIONS:
    --measurements FILE  JSON results with a `measurements` object (see benches/data/sample-measurements.json)
    --prices FILE        price table replacing the embedded us-east-1 list prices (same shape as
                         src/cost/prices-us-east-1.json)
    --out DIR            where to write cost-report.md and cost-chart.svg (default: target/cost)

Prints the cost table and the break-even volumes. Exit codes: 0 success, 1 the outputs could not be
written, 2 bad usage or an unreadable or invalid input file.
";

struct Arguments {
    measurements: PathBuf,
    prices: Option<PathBuf>,
    out: PathBuf,
}

fn parse_arguments(args: &[String]) -> Result<Option<Arguments>, String> {
    let mut measurements = None;
    let mut prices = None;
    let mut out = PathBuf::from("target/cost");
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--measurements" => measurements = Some(value()?),
            "--prices" => prices = Some(value()?),
            "--out" => out = value()?,
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    let measurements = measurements.ok_or("--measurements FILE is required")?;
    Ok(Some(Arguments {
        measurements,
        prices,
        out,
    }))
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))
}

fn load(arguments: &Arguments) -> Result<CostModel, String> {
    let in_file = |path: &Path, error: CostError| format!("{}: {error}", path.display());
    let measurements = Measurements::from_json(&read(&arguments.measurements)?)
        .map_err(|error| in_file(&arguments.measurements, error))?;
    let prices = match &arguments.prices {
        Some(path) => Prices::from_json(&read(path)?).map_err(|error| in_file(path, error))?,
        None => Prices::us_east_1(),
    };
    Ok(CostModel::new(prices, measurements, Assumptions::default()))
}

fn write_outputs(model: &CostModel, out: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("cost-report.md"), report::markdown(model))?;
    std::fs::write(out.join(report::CHART_FILE_NAME), chart::svg(model))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arguments = match parse_arguments(&args) {
        Ok(Some(arguments)) => arguments,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("apuntador-cost: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let model = match load(&arguments) {
        Ok(model) => model,
        Err(message) => {
            eprintln!("apuntador-cost: {message}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = write_outputs(&model, &arguments.out) {
        eprintln!(
            "apuntador-cost: cannot write to {}: {error}",
            arguments.out.display()
        );
        return ExitCode::FAILURE;
    }
    if model.measurements.sample {
        println!("SAMPLE INPUT — NOT MEASURED\n");
    }
    println!("{}", report::cost_table(&model));
    println!("{}", report::break_even_table(&model));
    println!(
        "wrote {} and {}",
        arguments.out.join("cost-report.md").display(),
        arguments.out.join(report::CHART_FILE_NAME).display()
    );
    ExitCode::SUCCESS
}
