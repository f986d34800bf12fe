//! Text renderings of a [`CostModel`]: the per-option bill tables, the shipped-stack comparison, the
//! break-even and what moves it, and the complete Markdown report with every input.
//!
//! Pure text rendering; depends on nothing else in the crate.

use std::fmt::Write as _;

use super::{
    BREAK_EVEN_SEARCH_RANGE, Bill, CostModel, Crossing, Deployment, Egress, FargateStack,
    LambdaStack, VOLUMES, variants,
};

/// File name of the chart the report links to (written next to it by `apuntador-cost`).
pub const CHART_FILE_NAME: &str = "cost-chart.svg";

/// Mark after a line or price that uses the us-east-1 price because the regional one was not found.
pub const FALLBACK_MARK: &str = "†";

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

/// A volume: `100k`, `1M`, `10M`, `100M`, `1B`; other volumes with three significant digits
/// (`487M`, `1.25B`).
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

/// Parses a volume as the command line takes it: `3M`, `250k`, `1.5B`, `3000000`, `3e6`.
pub fn parse_volume(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let (number, scale) = match text.chars().last() {
        Some('k' | 'K') => (&text[..text.len() - 1], 1e3),
        Some('m' | 'M') => (&text[..text.len() - 1], 1e6),
        Some('b' | 'B' | 'g' | 'G') => (&text[..text.len() - 1], 1e9),
        _ => (text, 1.0),
    };
    let value: f64 = number
        .replace('_', "")
        .parse()
        .map_err(|_| format!("`{text}` is not a number of requests (e.g. 3M, 250k, 1.5B)"))?;
    let value = value * scale;
    if !value.is_finite() || value < 0.0 {
        return Err(format!(
            "`{text}` must be a non-negative number of requests"
        ));
    }
    if value > 1e13 {
        return Err(format!(
            "`{text}` is more than 10 trillion requests a month"
        ));
    }
    Ok(value)
}

/// One sentence for a crossing of `first` against `second`.
pub fn describe_crossing(crossing: Crossing, first: &str, second: &str) -> String {
    let (low, high) = BREAK_EVEN_SEARCH_RANGE;
    match crossing {
        Crossing::At(volume) => format!(
            "{} requests/month ({}): {first} is cheaper below, {second} from there on",
            format_volume(volume),
            group_thousands(volume.round())
        ),
        Crossing::FirstCheaperThroughout => format!(
            "none: {first} is cheaper at every volume from {} to {} requests/month",
            format_volume(low),
            format_volume(high)
        ),
        Crossing::SecondCheaperThroughout => format!(
            "none: {second} is cheaper at every volume from {} requests/month",
            format_volume(low)
        ),
    }
}

fn uses_fallback(model: &CostModel, prices: &[String]) -> bool {
    prices.iter().any(|key| model.prices.is_fallback(key))
}

/// A bill as a Markdown table: line, how it was computed, monthly amount; the total last. Lines priced
/// with a us-east-1 stand-in are marked [`FALLBACK_MARK`].
pub fn bill_table(model: &CostModel, bill: &Bill) -> String {
    let mut table = String::from("| Line | Computed as | Monthly |\n|---|---|---:|\n");
    for line in &bill.lines {
        let mark = if uses_fallback(model, &line.prices) {
            FALLBACK_MARK
        } else {
            ""
        };
        let _ = writeln!(
            table,
            "| {}{mark} | {} | {} |",
            line.name,
            line.detail,
            format_money(line.amount)
        );
    }
    let _ = writeln!(
        table,
        "| **Total** | | **{}** |",
        format_money(bill.total())
    );
    table
}

/// A bill as plain text for a terminal: aligned name, amount and computation.
pub fn bill_text(model: &CostModel, bill: &Bill) -> String {
    let mut text = String::new();
    for line in &bill.lines {
        let mark = if uses_fallback(model, &line.prices) {
            FALLBACK_MARK
        } else {
            " "
        };
        let _ = writeln!(
            text,
            "  {:<32}{mark}{:>14}   {}",
            line.name,
            format_money(line.amount),
            line.detail
        );
    }
    let _ = writeln!(text, "  {:<32} {:>14}", "Total", format_money(bill.total()));
    text
}

/// The comparison table: one row per option, one column per volume of [`VOLUMES`], then the three
/// largest lines at the last-but-one volume.
pub fn comparison_table(model: &CostModel, options: &[(String, Deployment)]) -> String {
    let mut table = String::from("| Option |");
    for volume in VOLUMES {
        let _ = write!(table, " {} |", format_volume(volume));
    }
    table.push_str("\n|---|");
    for _ in VOLUMES {
        table.push_str("---:|");
    }
    table.push('\n');
    for (name, option) in options {
        let _ = write!(table, "| {name} |");
        for volume in VOLUMES {
            let _ = write!(
                table,
                " {} |",
                format_money(model.monthly_cost(option, volume))
            );
        }
        table.push('\n');
    }
    table
}

/// The three largest lines of `option` at each volume of [`VOLUMES`], as a Markdown table.
pub fn largest_lines_table(model: &CostModel, option: &Deployment) -> String {
    let mut table =
        String::from("| Requests/month | Total | Largest three lines |\n|---:|---:|---|\n");
    for volume in VOLUMES {
        let bill = model.bill(option, volume);
        let largest: Vec<String> = bill
            .largest(3)
            .iter()
            .map(|line| format!("{} {}", line.name, format_money(line.amount)))
            .collect();
        let _ = writeln!(
            table,
            "| {} | {} | {} |",
            format_volume(volume),
            format_money(bill.total()),
            largest.join("; ")
        );
    }
    table
}

/// One change to the shipped stacks or the assumptions, and the break-even it gives.
pub struct Sensitivity {
    /// What changed.
    pub change: String,
    /// The break-even of the changed Lambda stack against the changed Fargate stack.
    pub crossing: Crossing,
}

/// The break-even under single changes to the shipped stacks and the assumptions, in the order given.
pub fn sensitivities(
    model: &CostModel,
    lambda: &LambdaStack,
    fargate: &FargateStack,
) -> Vec<Sensitivity> {
    let mut out = Vec::new();
    let mut push = |change: &str, model: &CostModel, l: LambdaStack, f: FargateStack| {
        out.push(Sensitivity {
            change: change.to_owned(),
            crossing: model.break_even(&Deployment::Lambda(l), &Deployment::Fargate(f)),
        });
    };
    push("as shipped", model, lambda.clone(), fargate.clone());
    let l = LambdaStack {
        tracing: false,
        ..lambda.clone()
    };
    push("Lambda X-Ray tracing off", model, l, fargate.clone());
    let f = FargateStack {
        egress: Egress::PublicIp,
        ..fargate.clone()
    };
    push(
        "Fargate public IPs instead of NAT",
        model,
        lambda.clone(),
        f,
    );
    let f = FargateStack {
        interface_endpoints: false,
        ..fargate.clone()
    };
    push("Fargate interface endpoints off", model, lambda.clone(), f);
    let f = FargateStack {
        egress: Egress::PublicIp,
        interface_endpoints: false,
        ..fargate.clone()
    };
    push(
        "Fargate public IPs and interface endpoints off",
        model,
        lambda.clone(),
        f,
    );
    let f = FargateStack {
        spot_weight: 0,
        ..fargate.clone()
    };
    push("Fargate without Spot", model, lambda.clone(), f);
    let f = FargateStack {
        telemetry: true,
        ..fargate.clone()
    };
    push(
        "Fargate telemetry on (traces to X-Ray)",
        model,
        lambda.clone(),
        f,
    );
    let mut changed = model.clone();
    changed.assumptions.peak_to_average = 10.0;
    push(
        "peak-to-average 10 instead of 3",
        &changed,
        lambda.clone(),
        fargate.clone(),
    );
    let mut changed = model.clone();
    changed.assumptions.lambda_platform_log_bytes = 0.0;
    changed.assumptions.oauth_log_bytes_per_request = 0.0;
    changed.assumptions.device_log_bytes_per_request = 0.0;
    push(
        "no app or Lambda log lines (access log only)",
        &changed,
        lambda.clone(),
        fargate.clone(),
    );
    for rate in [0.001, 0.05] {
        let mut changed = model.clone();
        changed.assumptions.lambda_cold_start_rate = rate;
        push(
            &format!(
                "Lambda cold starts on {}% of invocations instead of {}%",
                rate * 100.0,
                model.assumptions.lambda_cold_start_rate * 100.0
            ),
            &changed,
            lambda.clone(),
            fargate.clone(),
        );
    }
    let mut changed = model.clone();
    changed.assumptions.dynamodb_round_trip_ms = 20.0;
    push(
        "DynamoDB round trip 20 ms instead of 5",
        &changed,
        lambda.clone(),
        fargate.clone(),
    );
    out
}

/// The break-even sentence of the shipped stacks and its sensitivities, as a Markdown table.
pub fn sensitivity_table(
    model: &CostModel,
    lambda: &LambdaStack,
    fargate: &FargateStack,
) -> String {
    let mut table = String::from("| Change | Break-even (Lambda against Fargate) |\n|---|---|\n");
    for s in sensitivities(model, lambda, fargate) {
        let _ = writeln!(
            table,
            "| {} | {} |",
            s.change,
            describe_crossing(s.crossing, "Lambda", "Fargate")
        );
    }
    table
}

/// The answer to "what do I pay for my traffic": each shown option's bill, then the cheaper choice.
pub fn answer(model: &CostModel, options: &[Deployment], requests: f64) -> String {
    let mut out = String::new();
    if model.measurements.sample {
        out.push_str("SAMPLE INPUT — NOT MEASURED\n\n");
    }
    let _ = writeln!(
        out,
        "{} requests/month, mix {}, {} prices ({}){}\n",
        format_volume(requests),
        model.mix,
        model.prices.region,
        model.prices.currency,
        if model.prices.region == super::FALLBACK_REGION {
            String::new()
        } else {
            format!("; {FALLBACK_MARK} = us-east-1 price, the regional one was not found")
        }
    );
    let stand_ins = model.prices.stand_ins();
    if !stand_ins.is_empty() {
        let _ = writeln!(
            out,
            "Stand-ins ({} of {} prices, us-east-1 price used): {}\n",
            stand_ins.len(),
            super::PRICE_KEYS.len(),
            stand_ins.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "Assumed: Lambda cold starts on {}% of invocations (--set lambda_cold_start_rate=F), a peak of {} \
         times the mean rate (--set peak_to_average=R); every assumption is in the report (--out DIR).\n",
        model.assumptions.lambda_cold_start_rate * 100.0,
        model.assumptions.peak_to_average
    );
    let mut totals = Vec::new();
    for option in options {
        let bill = model.bill(option, requests);
        let _ = writeln!(out, "{option}");
        out.push_str(&bill_text(model, &bill));
        out.push('\n');
        totals.push((option, bill.total()));
    }
    if let [(first, a), (second, b)] = totals.as_slice() {
        let (cheaper, dearer, low, high) = if a <= b {
            (first, second, a, b)
        } else {
            (second, first, b, a)
        };
        let _ = writeln!(
            out,
            "Cheaper: {} at {} per month, {} less than {} ({}).",
            cheaper.target(),
            format_money(*low),
            format_money(high - low),
            dearer.target(),
            format_money(*high)
        );
        if let (Deployment::Lambda(_), Deployment::Fargate(_)) = (first, second) {
            let _ = writeln!(
                out,
                "Break-even: {}.",
                describe_crossing(model.break_even(first, second), "Lambda", "Fargate")
            );
        }
    }
    out
}

/// The complete Markdown report for the shipped stacks `lambda` and `fargate`.
pub fn markdown(model: &CostModel, lambda: &LambdaStack, fargate: &FargateStack) -> String {
    let measurements = &model.measurements;
    let prices = &model.prices;
    let lambda_option = Deployment::Lambda(lambda.clone());
    let fargate_option = Deployment::Fargate(fargate.clone());
    let mut out = String::new();

    out.push_str("# Lambda or Fargate? Monthly cost of apuntador, as the stacks deploy it\n\n");
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
         prices for **{}** and the route mix `{}`. Each stack is priced as its \
         `terraform.tfvars.example` deploys it; every line of the bill is listed below with how it was \
         computed.\n",
        measurements.machine_or_unknown(),
        measurements.commit_or_unknown(),
        prices.currency,
        prices.region,
        model.mix
    );

    out.push_str("## The shipped stacks\n\n");
    let _ = writeln!(
        out,
        "- **Lambda**: {}; one HTTP API with two custom domains (public, and device with mutual TLS).",
        lambda_option.describe()
    );
    let _ = writeln!(
        out,
        "- **Fargate**: {}; two HTTP APIs on one VPC link to an internal ALB.\n",
        fargate_option.describe()
    );
    let shipped = vec![
        (
            "Lambda stack (as shipped)".to_owned(),
            lambda_option.clone(),
        ),
        (
            "Fargate stack (as shipped)".to_owned(),
            fargate_option.clone(),
        ),
    ];
    out.push_str(&comparison_table(model, &shipped));
    let _ = writeln!(
        out,
        "\n**Break-even**: {}.\n",
        describe_crossing(
            model.break_even(&lambda_option, &fargate_option),
            "Lambda",
            "Fargate"
        )
    );
    let _ = writeln!(
        out,
        "![Monthly cost versus monthly requests]({CHART_FILE_NAME})\n"
    );

    out.push_str("### What moves the break-even\n\n");
    out.push_str(&sensitivity_table(model, lambda, fargate));
    out.push('\n');

    out.push_str("### The largest lines\n\n**Lambda stack**\n\n");
    out.push_str(&largest_lines_table(model, &lambda_option));
    out.push_str("\n**Fargate stack**\n\n");
    out.push_str(&largest_lines_table(model, &fargate_option));
    out.push('\n');

    for volume in [1e6, 1e8] {
        let _ = writeln!(
            out,
            "## Every line at {} requests/month\n",
            format_volume(volume)
        );
        let _ = writeln!(out, "**Lambda stack** ({})\n", lambda_option.describe());
        out.push_str(&bill_table(model, &model.bill(&lambda_option, volume)));
        let _ = writeln!(out, "\n**Fargate stack** ({})\n", fargate_option.describe());
        out.push_str(&bill_table(model, &model.bill(&fargate_option, volume)));
        out.push('\n');
    }

    out.push_str("## Variants\n\nEach row changes one thing from the shipped stack.\n\n");
    out.push_str(&comparison_table(model, &variants(lambda, fargate)));
    out.push('\n');

    out.push_str(
        "## Inputs\n\n### Measurements\n\n| Figure | Value | How it was measured |\n|---|---:|---|\n",
    );
    for (field, name, value) in [
        (
            "lambda_handler_ms",
            "Lambda handler duration per request, one full core (ms)",
            measurements.lambda_handler_ms,
        ),
        (
            "lambda_init_ms",
            "Lambda INIT duration, one full core (ms)",
            measurements.lambda_init_ms,
        ),
        (
            "lambda_peak_rss_mb",
            "Lambda peak RSS (MiB)",
            measurements.lambda_peak_rss_mb,
        ),
        (
            "server_req_per_s_per_vcpu",
            "Server throughput per vCPU (requests/s)",
            measurements.server_req_per_s_per_vcpu,
        ),
        (
            "mean_response_bytes",
            "Mean response size (bytes)",
            measurements.mean_response_bytes,
        ),
    ] {
        let source = measurements
            .sources
            .get(field)
            .map(String::as_str)
            .unwrap_or("not stated");
        let _ = writeln!(out, "| {name} | {value} | {source} |");
    }
    let _ = writeln!(out, "| Machine | {} | |", measurements.machine_or_unknown());
    let _ = writeln!(out, "| Commit | `{}` | |", measurements.commit_or_unknown());
    let _ = writeln!(
        out,
        "| Sample (not measured) | {} | |\n",
        measurements.sample
    );

    out.push_str("### Derived\n\n");
    let used = model.store_use();
    let mean = model.mean_store_use();
    out.push_str("| Per request | oauth | device | other | mix |\n|---|---:|---:|---:|---:|\n");
    let _ = writeln!(
        out,
        "| DynamoDB read units | {:.3} | {:.3} | {:.3} | {:.3} |",
        used[0].read_units, used[1].read_units, used[2].read_units, mean.read_units
    );
    let _ = writeln!(
        out,
        "| DynamoDB write units | {:.3} | {:.3} | {:.3} | {:.3} |",
        used[0].write_units, used[1].write_units, used[2].write_units, mean.write_units
    );
    let _ = writeln!(
        out,
        "| DynamoDB calls | {:.3} | {:.3} | {:.3} | {:.3} |",
        used[0].calls, used[1].calls, used[2].calls, mean.calls
    );
    let a = &model.assumptions;
    let _ = writeln!(
        out,
        "| App log bytes | {} | {} | {} | {:.1} |\n",
        a.oauth_log_bytes_per_request,
        a.device_log_bytes_per_request,
        a.other_log_bytes_per_request,
        model.app_log_bytes()
    );
    let _ = writeln!(
        out,
        "Lambda at {} MB: {:.4} of a vCPU; billed {} ms warm, {} ms cold (handler × {} / memory + {:.2} ms \
         waiting on DynamoDB, rounded up to the millisecond). A Fargate task of {} vCPU takes {:.1} \
         requests/s at the peak.\n",
        lambda.memory_mb,
        model.lambda_cpu_share(lambda.memory_mb),
        model.lambda_billed_ms(lambda.memory_mb),
        model.lambda_billed_cold_ms(lambda.memory_mb),
        a.lambda_full_core_memory_mb,
        model.lambda_io_wait_ms(),
        fargate.vcpu(),
        model.fargate_task_capacity_rps(fargate)
    );

    out.push_str("### Assumptions\n\n| Name | Value | Unit | Meaning |\n|---|---:|---|---|\n");
    for assumption in model.assumptions.describe() {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            assumption.name, assumption.value, assumption.unit, assumption.description
        );
    }

    let _ = writeln!(
        out,
        "\n### Prices\n\n{} list prices for {}.{} A {FALLBACK_MARK} marks a price not found for this \
         region: the us-east-1 price stands in for it.\n",
        prices.currency,
        prices.region,
        prices
            .note
            .as_deref()
            .map(|note| format!(" {note}"))
            .unwrap_or_default()
    );
    let stand_ins = prices.stand_ins();
    if !stand_ins.is_empty() {
        let _ = writeln!(
            out,
            "**Stand-ins**: {} of the {} prices of {} were not found and are us-east-1 prices: {}.\n",
            stand_ins.len(),
            super::PRICE_KEYS.len(),
            prices.region,
            stand_ins
                .iter()
                .map(|key| format!("`{key}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    out.push_str("| Price | Value | Unit | Source | Read |\n|---|---:|---|---|---|\n");
    for key in super::PRICE_KEYS {
        let entry = &prices.entries[key];
        let value = match prices.try_get(key) {
            Some(value) if prices.is_fallback(key) => format!("{value}{FALLBACK_MARK}"),
            Some(value) => value.to_string(),
            None => "not found".to_owned(),
        };
        let source = match (&entry.source, &entry.note) {
            (Some(source), Some(note)) => format!("<{source}> ({note})"),
            (Some(source), None) => format!("<{source}>"),
            (None, Some(note)) => note.clone(),
            (None, None) => "not found".to_owned(),
        };
        let _ = writeln!(
            out,
            "| `{key}` | {value} | {} | {source} | {} |",
            entry.unit, entry.retrieved
        );
    }

    out.push_str(
        "\n### Not included\n\nCosts that are the same for both stacks or too small to move the answer: \
         DynamoDB and S3 storage, CloudWatch Logs storage (retention), internet data transfer out, \
         Route 53 (the user's hosted zone), ACM certificates (free), the S3 truststore, ECR image \
         storage, VPC flow logs (rejected traffic only). Free tiers, Savings Plans and volume tiers \
         (API Gateway is cheaper above 300 M requests/month) are ignored. The custom domains and the \
         VPC link cost nothing of their own (HTTP APIs: \"pay only for the API calls you receive and \
         the amount of data transferred out\", <https://aws.amazon.com/api-gateway/pricing/>). AWS WAF \
         cannot be attached to an HTTP API (<https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-control-access-aws-waf.html> \
         covers REST APIs only), so neither stack has one; putting one in front (CloudFront) is a \
         separate bill. Provisioned concurrency is priced for x86_64 only: no stored source gave the arm64 \
         prices, so an arm64 function with it needs a price file. Container image pulls at task starts \
         are left out.\n",
    );
    out
}
