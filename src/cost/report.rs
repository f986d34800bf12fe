//! The Markdown report of the cost model: the monthly cost table, the break-even volumes, and every
//! input (measurements, derived durations and task counts, assumptions, prices and their sources).
//!
//! Pure text rendering of a [`CostModel`]; depends on nothing else in the crate.

use std::fmt::Write as _;

use super::{
    BREAK_EVEN_SEARCH_RANGE, BreakEven, CostModel, Crossing, DeploymentOption, FrontDoor,
    LAMBDA_MEMORY_SIZES_MB, VOLUMES,
};

/// File name of the chart the report links to (written next to it by `apuntador-cost`).
pub const CHART_FILE_NAME: &str = "cost-chart.svg";

/// Volume of the report's cost-breakdown table, requests per month.
pub const BREAKDOWN_VOLUME: f64 = 1e7;

/// `1234567.891` → `$1,234,567.89` (two decimals, thousands grouped).
pub fn format_money(amount: f64) -> String {
    let cents = (amount * 100.0).round();
    let sign = if cents < 0.0 { "-" } else { "" };
    let cents = cents.abs();
    let whole = (cents / 100.0).trunc();
    let fraction = cents - whole * 100.0;
    format!("{sign}${}.{:02}", group_thousands(whole), fraction as u64)
}

/// A whole number with thousands separators: `1234567` → `1,234,567`.
fn group_thousands(whole: f64) -> String {
    let digits = format!("{whole:.0}");
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// A column heading for a monthly volume: `100k`, `1M`, `10M`, `100M`, `1B`; other volumes with three
/// significant digits (`487M`, `1.25B`).
pub fn format_volume(requests: f64) -> String {
    let (scaled, suffix) = if requests >= 1e12 {
        (requests / 1e12, "T")
    } else if requests >= 1e9 {
        (requests / 1e9, "B")
    } else if requests >= 1e6 {
        (requests / 1e6, "M")
    } else if requests >= 1e3 {
        (requests / 1e3, "k")
    } else {
        (requests, "")
    };
    let text = if scaled >= 100.0 {
        format!("{scaled:.0}")
    } else if scaled >= 10.0 {
        format!("{scaled:.1}")
    } else {
        format!("{scaled:.2}")
    };
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    };
    format!("{text}{suffix}")
}

/// The monthly cost table: one row per option of [`DeploymentOption::all`], one column per volume of
/// [`VOLUMES`], amounts as [`format_money`] writes them, and a note column (the Fargate floor, the
/// cheapest Lambda configuration of each front door, memory sizes below the measured peak RSS).
pub fn cost_table(model: &CostModel) -> String {
    let floor = model.fargate_floor();
    let cheapest: Vec<(FrontDoor, DeploymentOption)> = FrontDoor::ALL
        .into_iter()
        .filter_map(|door| model.cheapest_lambda(door).map(|option| (door, option)))
        .collect();
    let mut table = String::from("| Option |");
    for volume in VOLUMES {
        let _ = write!(table, " {} |", format_volume(volume));
    }
    table.push_str(" Note |\n|---|");
    for _ in VOLUMES {
        table.push_str("---:|");
    }
    table.push_str("---|\n");
    for option in DeploymentOption::all() {
        let _ = write!(table, "| {} |", option.label());
        for volume in VOLUMES {
            let _ = write!(
                table,
                " {} |",
                format_money(model.monthly_cost(option, volume))
            );
        }
        let mut notes = Vec::new();
        if option == floor {
            notes.push("Fargate floor".to_owned());
        }
        if let Some((door, _)) = cheapest.iter().find(|(_, cheapest)| *cheapest == option) {
            notes.push(format!("cheapest Lambda behind {door}"));
        }
        if let DeploymentOption::Lambda { memory_mb, .. } = option
            && !model.lambda_fits(memory_mb)
        {
            notes.push("peak RSS exceeds memory: not viable".to_owned());
        }
        let _ = writeln!(table, " {} |", notes.join("; "));
    }
    table
}

/// One sentence for a crossing: `487M requests/month (486,912,345)` or why there is none.
pub fn describe_crossing(crossing: Crossing) -> String {
    let (low, high) = BREAK_EVEN_SEARCH_RANGE;
    match crossing {
        Crossing::At(volume) => format!(
            "{} requests/month ({})",
            format_volume(volume),
            group_thousands(volume.round())
        ),
        Crossing::LambdaCheaperThroughout => format!(
            "none: Lambda is cheaper at every volume from {} to {} requests/month",
            format_volume(low),
            format_volume(high)
        ),
        Crossing::FargateCheaperThroughout => format!(
            "none: Lambda is no cheaper even at {} requests/month",
            format_volume(low)
        ),
    }
}

/// The break-even table of each front door's cheapest Lambda configuration against the Fargate floor.
pub fn break_even_table(model: &CostModel) -> String {
    let mut table = String::from(
        "| Front door | Cheapest Lambda configuration | Break-even against the Fargate floor | \
         Lambda cost there | Fargate floor cost there |\n|---|---|---|---:|---:|\n",
    );
    for break_even in model.front_door_break_evens() {
        let BreakEven {
            lambda,
            fargate,
            crossing,
        } = break_even;
        let DeploymentOption::Lambda { front_door, .. } = lambda else {
            continue;
        };
        let (lambda_cost, fargate_cost) = match crossing {
            Crossing::At(volume) => (
                format_money(model.monthly_cost(lambda, volume)),
                format_money(model.monthly_cost(fargate, volume)),
            ),
            _ => ("–".to_owned(), "–".to_owned()),
        };
        let _ = writeln!(
            table,
            "| {front_door} | {} | {} | {lambda_cost} | {fargate_cost} |",
            lambda.label(),
            describe_crossing(crossing)
        );
    }
    table
}

/// The complete Markdown report.
pub fn markdown(model: &CostModel) -> String {
    let measurements = &model.measurements;
    let prices = &model.prices;
    let assumptions = &model.assumptions;
    let floor = model.fargate_floor();
    let mut out = String::new();

    out.push_str("# Lambda or Fargate? Monthly cost of apuntador\n\n");
    if measurements.sample {
        out.push_str(
            "> **SAMPLE INPUT — NOT MEASURED.** The measurements below are illustrative numbers from \
             a sample file; run the benchmarks and pass their results to `apuntador-cost` for a real \
             report.\n\n",
        );
    }
    let _ = writeln!(
        out,
        "Generated by `apuntador-cost` from measurements taken on **{}** at commit `{}`, with {} list \
         prices for {} retrieved {}. Absolute times on another machine will differ; the structure \
         of the comparison holds.\n",
        measurements.machine_or_unknown(),
        measurements.commit_or_unknown(),
        prices.currency,
        prices.region,
        prices.retrieved
    );

    out.push_str("## Monthly cost per deployment option\n\n");
    let _ = writeln!(
        out,
        "Monthly cost in {} at each volume of requests per month. Every Fargate option runs \
         {} vCPU / {} GB tasks (at least {}) behind an internal ALB reached by an HTTP API through a \
         VPC link.\n",
        prices.currency,
        assumptions.fargate_task_vcpu,
        assumptions.fargate_task_memory_gb,
        assumptions.fargate_min_tasks
    );
    out.push_str(&cost_table(model));
    out.push('\n');

    out.push_str("## Break-even volumes\n\n");
    let _ = writeln!(
        out,
        "The **Fargate floor** is the Fargate option that costs least at its minimum size ({} tasks, \
         no traffic): **{}**, {} per month at its minimum size. Each front door is represented by its \
         cheapest Lambda configuration; its break-even volume is where its cost curve crosses the \
         floor's (found numerically: a log-spaced scan, then bisection). Below it Lambda is cheaper.\n",
        assumptions.fargate_min_tasks,
        floor.label(),
        format_money(model.monthly_cost(floor, 0.0))
    );
    out.push_str(&break_even_table(model));
    // Where the curves never cross, the per-request slopes say why.
    let marginal =
        |option| (model.monthly_cost(option, 1e9) - model.monthly_cost(option, 1e8)) / 900.0;
    for break_even in model.front_door_break_evens() {
        if break_even.crossing == Crossing::LambdaCheaperThroughout {
            let _ = writeln!(
                out,
                "\n{} never breaks even: it starts below the floor and, at the margin, costs {} per \
                 million requests against the floor's {} (which pays the HTTP API on every request).",
                break_even.lambda.label(),
                format_money(marginal(break_even.lambda)),
                format_money(marginal(break_even.fargate))
            );
        }
    }
    let _ = writeln!(
        out,
        "\n![Monthly cost versus monthly requests]({CHART_FILE_NAME})\n"
    );
    out.push_str("Every Lambda option against the Fargate floor:\n\n");
    out.push_str("| Lambda option | Break-even against the Fargate floor |\n|---|---|\n");
    for option in DeploymentOption::all()
        .into_iter()
        .filter(|option| !option.is_fargate())
    {
        let crossing = model.break_even(option, floor).crossing;
        let _ = writeln!(
            out,
            "| {} | {} |",
            option.label(),
            describe_crossing(crossing)
        );
    }
    out.push('\n');

    let _ = writeln!(
        out,
        "## Cost breakdown at {} requests/month\n",
        format_volume(BREAKDOWN_VOLUME)
    );
    out.push_str(
        "| Option | Compute | Cold starts (INIT) | Lambda requests | API Gateway | Load balancer | \
         Network | Total |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for option in DeploymentOption::all() {
        let part = model.breakdown(option, BREAKDOWN_VOLUME);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            option.label(),
            format_money(part.compute),
            format_money(part.cold_start),
            format_money(part.requests),
            format_money(part.front_door),
            format_money(part.load_balancer),
            format_money(part.network),
            format_money(part.total())
        );
    }
    out.push('\n');

    out.push_str("## Inputs\n\n### Measurements\n\n| Figure | Value |\n|---|---:|\n");
    for (name, value) in [
        (
            "Lambda handler duration per request, one full core (ms)",
            measurements.lambda_handler_ms,
        ),
        (
            "Lambda INIT duration, one full core (ms)",
            measurements.lambda_init_ms,
        ),
        ("Lambda peak RSS (MB)", measurements.lambda_peak_rss_mb),
        (
            "Server throughput per vCPU (requests/s)",
            measurements.server_req_per_s_per_vcpu,
        ),
        (
            "Mean response size (bytes)",
            measurements.mean_response_bytes,
        ),
    ] {
        let _ = writeln!(out, "| {name} | {value} |");
    }
    let _ = writeln!(out, "| Machine | {} |", measurements.machine_or_unknown());
    let _ = writeln!(out, "| Commit | `{}` |", measurements.commit_or_unknown());
    let _ = writeln!(out, "| Sample (not measured) | {} |\n", measurements.sample);

    out.push_str("### Derived: Lambda billed duration\n\n");
    let _ = writeln!(
        out,
        "Rule: a function of M MB gets min(1, M / {full}) of a vCPU, so a CPU-bound duration measured on \
         one full core takes 1 / share as long; waiting on I/O ({io} ms) does not scale. Billed warm = \
         ceil(handler × {full} / M + I/O) and billed cold = ceil((INIT + handler) × {full} / M + I/O), \
         to the {granularity} ms billing granularity. A cold start is billed for its INIT duration at \
         the rate of {rate} of invocations.\n",
        full = assumptions.lambda_full_core_memory_mb,
        io = assumptions.lambda_io_wait_ms,
        granularity = prices.lambda.billing_granularity_ms,
        rate = assumptions.lambda_cold_start_rate
    );
    out.push_str(
        "| Memory | vCPU share | Billed warm (ms) | Billed cold (ms) | Peak RSS fits |\n\
         |---:|---:|---:|---:|---|\n",
    );
    for memory_mb in LAMBDA_MEMORY_SIZES_MB {
        let _ = writeln!(
            out,
            "| {memory_mb} MB | {:.4} | {} | {} | {} |",
            model.lambda_cpu_share(memory_mb),
            model.lambda_billed_ms(memory_mb),
            model.lambda_billed_cold_ms(memory_mb),
            if model.lambda_fits(memory_mb) {
                "yes"
            } else {
                "no"
            }
        );
    }
    out.push_str("\n### Derived: Fargate task count\n\n");
    let _ = writeln!(
        out,
        "One task may take {:.1} requests/s at the peak ({} requests/s per vCPU × {} vCPU × (1 − {} \
         headroom)); the count is sized for the peak ({} × the monthly mean rate) and held all month, \
         never below {}.\n",
        model.fargate_task_capacity_rps(),
        measurements.server_req_per_s_per_vcpu,
        assumptions.fargate_task_vcpu,
        assumptions.fargate_headroom,
        assumptions.peak_to_average,
        assumptions.fargate_min_tasks
    );
    out.push_str(
        "| Requests/month | Mean requests/s | Peak requests/s | Tasks |\n|---:|---:|---:|---:|\n",
    );
    for volume in VOLUMES {
        let mean = volume / (assumptions.hours_per_month * 3600.0);
        let _ = writeln!(
            out,
            "| {} | {:.2} | {:.2} | {} |",
            format_volume(volume),
            mean,
            mean * assumptions.peak_to_average,
            model.fargate_tasks(volume)
        );
    }

    out.push_str("\n### Assumptions\n\n| Name | Value | Unit | Meaning |\n|---|---:|---|---|\n");
    for assumption in assumptions.describe() {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            assumption.name, assumption.value, assumption.unit, assumption.description
        );
    }

    let _ = writeln!(
        out,
        "\n### Prices\n\n{} list prices for {}, retrieved {}.{}\n",
        prices.currency,
        prices.region,
        prices.retrieved,
        prices
            .note
            .as_deref()
            .map(|note| format!(" {note}"))
            .unwrap_or_default()
    );
    out.push_str("| Price | Value | Source |\n|---|---:|---|\n");
    for (name, value) in prices.amounts() {
        let source = match name.split('.').next() {
            Some("lambda") => &prices.lambda.source,
            Some("fargate") => &prices.fargate.source,
            Some("alb") => &prices.alb.source,
            Some("api_gateway") => &prices.api_gateway.source,
            Some("vpc_interface_endpoint") => &prices.vpc_interface_endpoint.source,
            Some("nat_gateway") => &prices.nat_gateway.source,
            _ => &prices.public_ipv4.source,
        };
        let _ = writeln!(out, "| `{name}` | {value} | {source} |");
    }
    out.push_str("\nSources:\n\n");
    for source in &prices.sources {
        let _ = writeln!(out, "- {}: <{}>", source.name, source.url);
    }

    out.push_str(
        "\n### Not included\n\nCosts common to every option, which do not move a break-even much: \
         DynamoDB, S3, Secrets Manager, CloudWatch Logs ingestion and storage, internet data transfer \
         out, Route 53, ACM, ECR storage. Free tiers, Savings Plans and volume tiers (API Gateway is \
         cheaper above 300 M requests/month) are ignored; API Gateway's 512 KB metering increment does \
         not matter at this service's sizes. The ALB is charged on the larger of its new-connection and \
         processed-bytes dimensions.\n",
    );
    out
}
