//! Runs `apuntador-cost` as a process and checks its outputs against `apuntador::cost`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use apuntador::cost::report::{cost_table, format_money};
use apuntador::cost::{
    Assumptions, CostModel, Crossing, DEFAULT_PRICES_JSON, DeploymentOption, Measurements, Prices,
    VOLUMES,
};

fn sample_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data/sample-measurements.json")
}

fn sample_model(prices: Prices) -> CostModel {
    let text = std::fs::read_to_string(sample_path()).expect("the sample is committed");
    let measurements = Measurements::from_json(&text).expect("the sample parses");
    CostModel::new(prices, measurements, Assumptions::default())
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_apuntador-cost"))
        .args(args)
        .output()
        .expect("apuntador-cost runs")
}

/// Runs the binary on the sample into a fresh directory; returns the directory and the process output.
fn run_on_sample(extra: &[&str]) -> (tempfile::TempDir, Output) {
    let out = tempfile::tempdir().expect("a temporary directory");
    let sample = sample_path();
    let mut args = vec![
        "--measurements",
        sample.to_str().expect("a UTF-8 path"),
        "--out",
        out.path().to_str().expect("a UTF-8 path"),
    ];
    args.extend_from_slice(extra);
    let output = run(&args);
    assert!(
        output.status.success(),
        "apuntador-cost failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (out, output)
}

/// The cells of the cost table's row for `label` in a Markdown report.
fn table_row<'a>(markdown: &'a str, label: &str) -> Vec<&'a str> {
    let prefix = format!("| {label} |");
    let line = markdown
        .lines()
        .skip_while(|line| !line.starts_with("| Option | 100k |"))
        .take_while(|line| line.starts_with('|'))
        .find(|line| line.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no row for {label}"));
    line.trim_matches('|').split('|').map(str::trim).collect()
}

fn parse_money(cell: &str) -> f64 {
    cell.trim_start_matches('$')
        .replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("not money: {cell}"))
}

#[test]
fn the_chart_is_well_formed_svg_with_one_line_per_option_and_the_break_evens_marked() {
    let model = sample_model(Prices::us_east_1());
    let (out, _) = run_on_sample(&[]);

    let text =
        std::fs::read_to_string(out.path().join("cost-chart.svg")).expect("the chart is written");
    let document = roxmltree::Document::parse(&text).expect("the chart is well-formed XML");

    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    let lines: Vec<roxmltree::Node> = document
        .descendants()
        .filter(|node| node.has_tag_name("polyline") && node.attribute("class") == Some("option"))
        .collect();
    let ids: BTreeSet<&str> = lines
        .iter()
        .filter_map(|line| line.attribute("data-option"))
        .collect();
    let expected: BTreeSet<String> = DeploymentOption::all()
        .iter()
        .map(DeploymentOption::id)
        .collect();
    assert_eq!(lines.len(), expected.len());
    assert_eq!(ids, expected.iter().map(String::as_str).collect());
    for line in &lines {
        let points = line.attribute("points").expect("a polyline has points");
        let coordinates: Vec<f64> = points
            .split([' ', ','])
            .map(|number| number.parse().expect("a coordinate is a number"))
            .collect();
        assert!(coordinates.len() >= 4 && coordinates.iter().all(|value| value.is_finite()));
    }

    let expected_marks: Vec<(String, String, f64)> = model
        .front_door_break_evens()
        .into_iter()
        .filter_map(|found| match found.crossing {
            Crossing::At(volume) => Some((found.lambda.id(), found.fargate.id(), volume)),
            _ => None,
        })
        .collect();
    let marks: Vec<(String, String, f64)> = document
        .descendants()
        .filter(|node| node.has_tag_name("circle") && node.attribute("class") == Some("break-even"))
        .map(|mark| {
            let attribute = |name| {
                mark.attribute(name)
                    .unwrap_or_else(|| panic!("a marker has {name}"))
                    .to_owned()
            };
            let volume: f64 = attribute("data-volume")
                .parse()
                .expect("data-volume is a number");
            (attribute("data-lambda"), attribute("data-fargate"), volume)
        })
        .collect();
    assert!(
        !expected_marks.is_empty(),
        "the sample should have break-evens"
    );
    assert_eq!(marks.len(), expected_marks.len());
    for ((lambda, fargate, volume), (expected_lambda, expected_fargate, expected_volume)) in
        marks.iter().zip(&expected_marks)
    {
        assert_eq!((lambda, fargate), (expected_lambda, expected_fargate));
        assert!(
            (volume - expected_volume).abs() <= 0.5,
            "{volume} vs {expected_volume}"
        );
    }
}

#[test]
fn the_markdown_table_carries_the_library_numbers() {
    let model = sample_model(Prices::us_east_1());
    let (out, output) = run_on_sample(&[]);

    let markdown =
        std::fs::read_to_string(out.path().join("cost-report.md")).expect("the report is written");

    for option in DeploymentOption::all() {
        let cells = table_row(&markdown, &option.label());
        for (cell, &volume) in cells[1..=VOLUMES.len()].iter().zip(&VOLUMES) {
            let expected = model.monthly_cost(option, volume);
            assert_eq!(
                *cell,
                format_money(expected),
                "{} at {volume}",
                option.label()
            );
            assert!((parse_money(cell) - expected).abs() <= 0.005 + 1e-9);
        }
    }
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 output");
    assert!(stdout.contains(&cost_table(&model)), "the table is printed");
    assert!(markdown.contains("SAMPLE INPUT — NOT MEASURED"));
    assert!(markdown.contains("retrieved 2026-11-28"));
}

#[test]
fn a_prices_file_replaces_the_embedded_table() {
    let prices_text = DEFAULT_PRICES_JSON.replace(
        r#""http_api_per_million_requests": 1.00"#,
        r#""http_api_per_million_requests": 2.00"#,
    );
    let model = sample_model(Prices::from_json(&prices_text).expect("the edited table is valid"));
    let directory = tempfile::tempdir().expect("a temporary directory");
    let prices = directory.path().join("prices.json");
    std::fs::write(&prices, &prices_text).expect("the price file is written");

    let (out, _) = run_on_sample(&["--prices", prices.to_str().expect("a UTF-8 path")]);

    let markdown =
        std::fs::read_to_string(out.path().join("cost-report.md")).expect("the report is written");
    let option = model.fargate_floor();
    let cells = table_row(&markdown, &option.label());
    assert_eq!(cells[5], format_money(model.monthly_cost(option, 1e9)));
    assert_ne!(
        cells[5],
        format_money(sample_model(Prices::us_east_1()).monthly_cost(option, 1e9))
    );
}

#[test]
fn help_prints_the_usage_and_exits_0() {
    let output = run(&["--help"]);

    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("--measurements FILE"));
}

#[test]
fn bad_usage_or_invalid_input_exits_2_with_a_clear_message() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let broken = directory.path().join("broken.json");
    std::fs::write(
        &broken,
        r#"{ "measurements": { "lambda_handler_ms": 0.1 } }"#,
    )
    .expect("written");
    let broken = broken.to_str().expect("a UTF-8 path");
    let sample = sample_path();
    let sample = sample.to_str().expect("a UTF-8 path");
    let cases: [(&[&str], &str); 5] = [
        (&[], "--measurements FILE is required"),
        (&["--measurements"], "--measurements needs a value"),
        (
            &["--measurements", sample, "--colour"],
            "unexpected argument `--colour`",
        ),
        (
            &["--measurements", "/nonexistent/measurements.json"],
            "cannot read /nonexistent/measurements.json",
        ),
        (&["--measurements", broken], "invalid measurements"),
    ];

    for (args, message) in cases {
        let output = run(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    let prices = run(&["--measurements", sample, "--prices", sample]);
    assert_eq!(prices.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&prices.stderr).contains("invalid price table"));
}
