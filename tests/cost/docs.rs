//! The cost figures the documentation quotes are the tool's: the README's shipped-stack table, the
//! rounded sentences of docs/deployment.md and docs/lambda-or-fargate.md, the break-even and what moves
//! it, all computed here from the committed measurements and the embedded us-east-1 prices; and the
//! committed report and chart in docs/cost are what `apuntador-cost --out` writes today.

use std::path::Path;
use std::process::Command;

use apuntador::cost::report::{format_money, sensitivities};
use apuntador::cost::{Crossing, Deployment, FargateStack, LambdaStack, Mix};

use crate::binary::committed_model;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// The text with every run of whitespace (line breaks included) as one space, so a sentence can
/// wrap anywhere.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

const VOLUMES: [f64; 4] = [1e5, 1e6, 1e7, 1e8];

/// `104M`: a crossing in whole millions, as the documents round it.
fn millions(crossing: Crossing) -> String {
    match crossing {
        Crossing::At(volume) => format!("{:.0}M", volume / 1e6),
        other => panic!("expected a crossing, got {other:?}"),
    }
}

#[test]
fn the_documents_quote_the_tools_figures_for_the_shipped_stacks() {
    let model = committed_model("us-east-1", Mix::default());
    let lambda = Deployment::Lambda(LambdaStack::default());
    let fargate = Deployment::Fargate(FargateStack::default());
    let readme = read("README.md");
    let deployment = flat(&read("docs/deployment.md"));
    let guide = flat(&read("docs/lambda-or-fargate.md"));

    for (option, name) in [(&lambda, "Lambda"), (&fargate, "Fargate")] {
        let totals: Vec<f64> = VOLUMES
            .iter()
            .map(|v| model.monthly_cost(option, *v))
            .collect();
        // README: the exact amounts, in one table row.
        let row: String = totals
            .iter()
            .map(|total| format!(" {} |", format_money(*total)))
            .collect();
        assert!(
            readme
                .lines()
                .any(|line| line.starts_with(&format!("| **{name}**")) && line.ends_with(&row)),
            "README's {name} row should end with `{row}`"
        );
        // The guides: whole dollars, in one sentence.
        let sentence = format!(
            "about **${:.0} a month at 100k requests, ${:.0} at 1M, ${:.0} at 10M, ${:.0} at 100M**",
            totals[0], totals[1], totals[2], totals[3]
        );
        for (document, text) in [
            ("docs/deployment.md", &deployment),
            ("docs/lambda-or-fargate.md", &guide),
        ] {
            assert!(
                text.contains(&sentence),
                "{document} should say `{sentence}`"
            );
        }
    }

    // The eu-west-1 rows of the README's table and the break-even every document gives for it.
    let ireland = committed_model("eu-west-1", Mix::default());
    for (option, name) in [(&lambda, "Lambda"), (&fargate, "Fargate")] {
        let row: String = VOLUMES
            .iter()
            .map(|v| format!(" {} |", format_money(ireland.monthly_cost(option, *v))))
            .collect();
        assert!(
            readme.lines().any(
                |line| line.starts_with(&format!("| {name}, eu-west-1 prices"))
                    && line.ends_with(&row)
            ),
            "README's eu-west-1 {name} row should end with `{row}`"
        );
    }
    let ireland_break_even = millions(ireland.break_even(&lambda, &fargate));
    for (document, text) in [
        ("README.md", flat(&readme)),
        ("docs/deployment.md", deployment.clone()),
        ("docs/lambda-or-fargate.md", guide.clone()),
    ] {
        assert!(
            text.contains(&format!("eu-west-1 break-even is {ireland_break_even}")),
            "{document} should give the eu-west-1 break-even {ireland_break_even}"
        );
    }
    let readme = flat(&readme);

    let (lambda_stack, fargate_stack) = (LambdaStack::default(), FargateStack::default());
    let all = sensitivities(&model, &lambda_stack, &fargate_stack);
    let crossing = |change: &str| {
        all.iter()
            .find(|s| s.change == change)
            .unwrap_or_else(|| panic!("no sensitivity `{change}`"))
            .crossing
    };
    let shipped = millions(crossing("as shipped"));
    assert!(
        readme.contains(&format!("cheaper below about {shipped} requests a month")),
        "README should give the break-even {shipped}"
    );
    for (document, text) in [
        ("docs/deployment.md", &deployment),
        ("docs/lambda-or-fargate.md", &guide),
    ] {
        assert!(
            text.contains(&format!("Break-even: about {shipped} requests a month.")),
            "{document} should give the break-even {shipped}"
        );
    }
    // What moves it, as every document words it.
    for change in [
        "Fargate public IPs and interface endpoints off",
        "Fargate interface endpoints off",
        "Fargate public IPs instead of NAT",
        "Lambda X-Ray tracing off",
        "Lambda cold starts on 0.1% of invocations instead of 1%",
        "Lambda cold starts on 5% of invocations instead of 1%",
    ] {
        let figure = millions(crossing(change));
        for (document, text) in [
            ("README.md", &readme),
            ("docs/deployment.md", &deployment),
            ("docs/lambda-or-fargate.md", &guide),
        ] {
            assert!(
                text.contains(&format!("{figure})"))
                    || text.contains(&format!("{figure},"))
                    || text.contains(&format!("{figure};"))
                    || text.contains(&format!("{figure}."))
                    || text.contains(&format!("{figure} ")),
                "{document} should quote {figure} for `{change}`"
            );
        }
    }
    assert_eq!(
        crossing("Fargate telemetry on (traces to X-Ray)"),
        Crossing::FirstCheaperThroughout,
        "the documents say Fargate telemetry makes Lambda cheaper at every volume"
    );
}

#[test]
fn the_committed_report_and_chart_are_what_the_tool_writes() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let output = Command::new(env!("CARGO_BIN_EXE_apuntador-cost"))
        .arg("--out")
        .arg(dir.path())
        .output()
        .expect("apuntador-cost runs");
    assert!(output.status.success(), "{output:?}");
    for file in ["cost-report.md", "cost-chart.svg"] {
        let written = std::fs::read_to_string(dir.path().join(file)).expect("written");
        assert!(
            written == read(&format!("docs/cost/{file}")),
            "docs/cost/{file} is stale: regenerate it with `cargo run --bin apuntador-cost -- --out docs/cost`"
        );
    }
}
