//! Runs `apuntador-cost` as a process: the user's question gets the library's numbers, flags and an
//! assumptions file override the defaults in that order, `--help` shows every flag with its default, bad
//! input exits 2 with a reason, and `--out` writes the report and a chart that parses back with the
//! shipped stacks, at most two variants, the two shaded sides and the break-even.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use apuntador::cost::report::format_money;
use apuntador::cost::{
    Architecture, Assumptions, CostModel, Crossing, Deployment, FargateStack, LambdaStack,
    Measurements, Mix, Prices, REGIONS,
};

fn sample_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data/sample-measurements.json")
}

pub fn committed_model(region: &str, mix: Mix) -> CostModel {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cost/results.json"),
    )
    .expect("the committed results");
    CostModel::new(
        Prices::for_region(region).expect("embedded region"),
        Measurements::from_json(&text).expect("they parse"),
        Assumptions::default(),
        mix,
    )
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_apuntador-cost"))
        .args(args)
        .output()
        .expect("apuntador-cost runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "apuntador-cost failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8")
}

/// The amount on the `Total` line after the heading of `target`'s bill.
fn total_after(text: &str, target: &str) -> String {
    text.lines()
        .skip_while(|line| !line.starts_with(target))
        .find(|line| line.trim_start().starts_with("Total"))
        .unwrap_or_else(|| panic!("no total for {target} in:\n{text}"))
        .split_whitespace()
        .nth(1)
        .expect("an amount")
        .to_owned()
}

#[test]
fn the_users_question_gets_both_bills_the_cheaper_choice_and_the_librarys_numbers() {
    let output = run(&[
        "--requests",
        "3M",
        "--region",
        "eu-west-1",
        "--mix",
        "oauth=0.7,device=0.3",
    ]);
    let text = stdout(&output);
    let model = committed_model("eu-west-1", Mix::parse("oauth=0.7,device=0.3").unwrap());
    let lambda = Deployment::Lambda(LambdaStack::default());
    let fargate = Deployment::Fargate(FargateStack::default());
    let lambda_total = model.monthly_cost(&lambda, 3e6);
    let fargate_total = model.monthly_cost(&fargate, 3e6);
    assert_eq!(total_after(&text, "Lambda ("), format_money(lambda_total));
    assert_eq!(total_after(&text, "Fargate ("), format_money(fargate_total));
    for line in [
        "Lambda requests",
        "Lambda duration",
        "HTTP API requests",
        "DynamoDB writes",
        "DynamoDB reads",
        "Secrets Manager secrets",
        "Secrets Manager API calls",
        "CloudWatch Logs ingestion",
        "X-Ray traces",
        "Fargate tasks",
        "Load balancer hours",
        "Load balancer capacity units",
        "NAT gateway hours",
        "NAT gateway data",
        "Public IPv4 addresses",
        "Interface endpoints",
    ] {
        assert!(text.contains(line), "no `{line}` line in:\n{text}");
    }
    let cheaper = if lambda_total <= fargate_total {
        "Lambda"
    } else {
        "Fargate"
    };
    assert!(
        text.contains(&format!(
            "Cheaper: {cheaper} at {}",
            format_money(lambda_total.min(fargate_total))
        )),
        "{text}"
    );
    assert!(text.contains("Break-even:"), "{text}");
    // eu-west-1 prices not found are us-east-1 stand-ins, and the output says so.
    assert!(text.contains("† = us-east-1 price"), "{text}");
    assert!(
        text.contains(&format!("{:<32}†", "DynamoDB writes")),
        "{text}"
    );
    assert!(
        !text.contains(&format!("{:<32}†", "Fargate tasks")),
        "Ireland's Fargate prices were found: {text}"
    );
}

#[test]
fn stack_selects_one_bill_and_the_switch_flags_change_it() {
    let text = stdout(&run(&["--requests", "10M", "--stack", "lambda"]));
    assert!(text.contains("Lambda ("));
    assert!(!text.contains("Fargate ("));
    assert!(!text.contains("Cheaper:"));
    let model = committed_model("us-east-1", Mix::default());
    let changed = Deployment::Fargate(FargateStack {
        egress: apuntador::cost::Egress::PublicIp,
        interface_endpoints: false,
        ..FargateStack::default()
    });
    let text = stdout(&run(&[
        "--requests",
        "10M",
        "--stack",
        "fargate",
        "--egress",
        "public_ip",
        "--endpoints",
        "off",
    ]));
    assert_eq!(
        total_after(&text, "Fargate ("),
        format_money(model.monthly_cost(&changed, 1e7))
    );
    assert!(!text.contains("NAT gateway"));
    assert!(!text.contains("Interface endpoints"));
}

#[test]
fn flags_override_the_assumptions_file_which_overrides_the_defaults() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("mine.toml");
    std::fs::write(
        &file,
        "requests = \"20M\"\nmix = \"oauth=1\"\n[assumptions]\npeak_to_average = 5.0\n\
         [lambda]\nmemory_mb = 1024\ntracing = false\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let mut model = committed_model("us-east-1", Mix::parse("oauth=1").unwrap());
    model.assumptions.peak_to_average = 5.0;
    let from_file = Deployment::Lambda(LambdaStack {
        memory_mb: 1024,
        tracing: false,
        ..LambdaStack::default()
    });
    let text = stdout(&run(&["--assumptions", path, "--stack", "lambda"]));
    assert!(
        text.starts_with("20M requests/month, mix oauth=1,"),
        "{text}"
    );
    assert_eq!(
        total_after(&text, "Lambda ("),
        format_money(model.monthly_cost(&from_file, 2e7))
    );
    // The flag wins over the file: 128 MB, 5M requests; --set wins over [assumptions].
    let text = stdout(&run(&[
        "--assumptions",
        path,
        "--stack",
        "lambda",
        "--lambda-memory",
        "128",
        "--requests",
        "5M",
        "--set",
        "dynamodb_round_trip_ms=12",
    ]));
    model.assumptions.dynamodb_round_trip_ms = 12.0;
    let flagged = Deployment::Lambda(LambdaStack {
        memory_mb: 128,
        tracing: false,
        ..LambdaStack::default()
    });
    assert_eq!(
        total_after(&text, "Lambda ("),
        format_money(model.monthly_cost(&flagged, 5e6))
    );
}

#[test]
fn help_shows_every_flag_with_its_default() {
    let text = stdout(&run(&["--help"]));
    assert!(
        text.starts_with(
            "Monthly cost of apuntador on the shipped AWS Lambda and ECS Fargate stacks"
        ),
        "{text}"
    );
    for (flag, default) in [
        ("--requests", Some("1M")),
        ("--region", Some("us-east-1")),
        ("--mix", Some("oauth=0.7,device=0.3")),
        ("--stack", Some("both")),
        ("--assumptions", Some("none")),
        ("--set", Some("none")),
        ("--prices", Some("none")),
        (
            "--measurements",
            Some("the committed docs/cost/results.json"),
        ),
        ("--out", Some("none")),
        ("--lambda-arch", Some("arm64")),
        ("--lambda-memory", Some("512")),
        ("--tracing", Some("on")),
        ("--provisioned-concurrency", Some("0")),
        ("--fargate-arch", Some("x86_64")),
        ("--fargate-cpu", Some("256")),
        ("--fargate-memory", Some("512")),
        ("--min-tasks", Some("2")),
        ("--zones", Some("2")),
        ("--egress", Some("nat")),
        ("--spot-base", Some("1")),
        ("--fargate-weight", Some("1")),
        ("--spot-weight", Some("3")),
        ("--endpoints", Some("on")),
        ("--telemetry", Some("off")),
        ("--app-secrets", Some("5")),
    ] {
        let line = text
            .lines()
            .find(|line| line.trim_start().starts_with(flag))
            .unwrap_or_else(|| panic!("{flag} missing from --help:\n{text}"));
        if let Some(default) = default {
            let block: String = text
                .lines()
                .skip_while(|l| !l.trim_start().starts_with(flag))
                .take(4)
                .collect::<Vec<_>>()
                .join(" ");
            assert!(
                block.contains(&format!("[default: {default}]")),
                "{flag} does not show its default {default}: {line}\n{block}"
            );
        }
    }
    // The help defaults are the model's defaults (the tfvars agreement is tests/cost/tfvars.rs).
    let lambda = LambdaStack::default();
    let fargate = FargateStack::default();
    assert!(text.contains(&format!("[default: {}]", lambda.memory_mb)));
    assert!(text.contains(&format!("[default: {}]", fargate.cpu_units)));
    assert_eq!(lambda.architecture.name(), "arm64");
    assert_eq!(fargate.architecture.name(), "x86_64");
}

#[test]
fn provisioned_concurrency_is_priced_on_x86_64_and_help_names_every_stand_in() {
    let text = stdout(&run(&[
        "--requests",
        "100M",
        "--stack",
        "lambda",
        "--lambda-arch",
        "x86_64",
        "--provisioned-concurrency",
        "2",
    ]));
    let model = committed_model("us-east-1", Mix::default());
    let option = Deployment::Lambda(LambdaStack {
        architecture: Architecture::X86_64,
        provisioned_concurrency: 2,
        ..LambdaStack::default()
    });
    assert_eq!(
        total_after(&text, "Lambda ("),
        format_money(model.monthly_cost(&option, 1e8))
    );
    for line in [
        "Lambda provisioned concurrency",
        "Lambda provisioned duration",
    ] {
        assert!(text.contains(line), "no `{line}` line in:\n{text}");
    }
    let help = stdout(&run(&["--help"]));
    for (region, _) in REGIONS {
        let prices = Prices::for_region(region).expect("embedded");
        let line = help
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("{region}: ")))
            .unwrap_or_else(|| panic!("no stand-in line for {region} in --help:\n{help}"));
        for key in prices.stand_ins() {
            assert!(line.contains(key), "{region}: {key} not named: {line}");
        }
    }
    assert!(
        help.contains("us-east-1: 24 of 26 prices found; stand-ins: none"),
        "{help}"
    );
}

#[test]
fn bad_input_exits_2_with_a_reason() {
    for (args, reason) in [
        (vec!["--requests", "lots"], "not a number of requests"),
        (vec!["--mix", "oauth=0.5"], "add up to 0.5"),
        (vec!["--mix", "files=1"], "unknown kind `files`"),
        (
            vec!["--region", "ap-south-9"],
            "no price table for region `ap-south-9`",
        ),
        (vec!["--set", "peak=3"], "unknown assumption `peak`"),
        (vec!["--set", "peak_to_average"], "NAME=VALUE"),
        (
            vec!["--provisioned-concurrency", "2"],
            "provisioned concurrency on arm64 needs `lambda.provisioned_gb_second.arm64`",
        ),
        (vec!["--egress", "satellite"], "invalid value 'satellite'"),
        (
            vec!["--assumptions", "/nonexistent/file.toml"],
            "cannot read",
        ),
        (
            vec!["--measurements", "/nonexistent/results.json"],
            "cannot read",
        ),
        (vec!["--frobnicate"], "unexpected argument"),
    ] {
        let output = run(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?} printed a bill");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[lambda]\nmemory = 1024\n").unwrap();
    let output = run(&["--assumptions", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown field `memory`"));
}

/// Runs the binary on the sample measurements into `dir`; returns the chart text.
pub fn chart_of_sample(dir: &Path) -> String {
    let sample = sample_path();
    let text = stdout(&run(&[
        "--measurements",
        sample.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]));
    assert!(text.starts_with("SAMPLE INPUT — NOT MEASURED"), "{text}");
    assert!(dir.join("cost-report.md").exists());
    std::fs::read_to_string(dir.join("cost-chart.svg")).expect("the chart is written")
}

#[test]
fn the_chart_has_the_shipped_stacks_two_variants_the_shaded_sides_and_the_break_even() {
    let dir = tempfile::tempdir().unwrap();
    let text = chart_of_sample(dir.path());
    let document = roxmltree::Document::parse(&text).expect("well-formed SVG");
    let lines: Vec<&str> = document
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("class") == Some("option"))
        .map(|n| n.attribute("data-option").unwrap())
        .collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(sorted, ["fargate", "lambda", "variant-1", "variant-2"]);

    let sample = Measurements::from_json(&std::fs::read_to_string(sample_path()).unwrap()).unwrap();
    let model = CostModel::new(
        Prices::us_east_1(),
        sample,
        Assumptions::default(),
        Mix::default(),
    );
    let crossing = model.break_even(
        &Deployment::Lambda(LambdaStack::default()),
        &Deployment::Fargate(FargateStack::default()),
    );
    let markers: Vec<f64> = document
        .descendants()
        .filter(|n| n.attribute("class") == Some("break-even"))
        .map(|n| n.attribute("data-volume").unwrap().parse().unwrap())
        .collect();
    let sides: Vec<&str> = document
        .descendants()
        .filter(|n| n.attribute("class") == Some("side"))
        .map(|n| n.attribute("data-cheaper").unwrap())
        .collect();
    match crossing {
        Crossing::At(volume) => {
            assert_eq!(markers.len(), 1);
            assert!(
                (markers[0] - volume).abs() <= 1.0,
                "{} vs {volume}",
                markers[0]
            );
            assert_eq!(sides, ["Lambda", "Fargate"]);
        }
        Crossing::FirstCheaperThroughout => assert_eq!(sides, ["Lambda"]),
        Crossing::SecondCheaperThroughout => assert_eq!(sides, ["Fargate"]),
    }
    let report = std::fs::read_to_string(dir.path().join("cost-report.md")).unwrap();
    assert!(report.contains("SAMPLE INPUT — NOT MEASURED"));
    assert!(report.contains("## The shipped stacks"));
    assert!(report.contains("### What moves the break-even"));
}
