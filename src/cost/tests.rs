//! Unit tests of the cost model: every cost line against a hand-computed case (the arithmetic is in
//! each test's comments), the traffic derivations, the break-even, and the input parsers.

use super::report::{format_money, format_volume, parse_volume};
use super::*;

fn measurements() -> Measurements {
    Measurements {
        sample: false,
        lambda_handler_ms: 0.5,
        lambda_init_ms: 10.0,
        lambda_peak_rss_mb: 14.0,
        server_req_per_s_per_vcpu: 4000.0,
        mean_response_bytes: 200.0,
        machine: None,
        commit: None,
        sources: Default::default(),
    }
}

fn mix(oauth: f64, device: f64, other: f64) -> Mix {
    Mix {
        oauth,
        device,
        other,
    }
}

/// us-east-1 prices, the measurements above, default assumptions, all-oauth traffic.
fn model() -> CostModel {
    CostModel::new(
        Prices::us_east_1(),
        measurements(),
        Assumptions::default(),
        mix(1.0, 0.0, 0.0),
    )
}

fn lambda() -> Deployment {
    Deployment::Lambda(LambdaStack::default())
}

fn fargate() -> Deployment {
    Deployment::Fargate(FargateStack::default())
}

fn assert_close(actual: f64, expected: f64, tolerance: f64) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "expected {expected}, got {actual} (tolerance {tolerance})"
    );
}

/// Seconds in the 730-hour month: 1 request/s for a month is 2,628,000 requests.
const MONTH_SECONDS: f64 = 2_628_000.0;

#[test]
fn the_defaults_are_the_example_tfvars() {
    let lambda = LambdaStack::default();
    assert_eq!(lambda.architecture, Architecture::Arm64);
    assert_eq!(lambda.memory_mb, 512);
    assert!(lambda.tracing);
    assert_eq!(lambda.provisioned_concurrency, 0);
    assert_eq!(lambda.secrets(), 8, "3 CA secrets + 5 managed_app_secrets");
    let fargate = FargateStack::default();
    assert_eq!(fargate.architecture, Architecture::X86_64);
    assert_eq!((fargate.cpu_units, fargate.memory_mib), (256, 512));
    assert_eq!(fargate.min_tasks, 2);
    assert_eq!(fargate.egress, Egress::NatGateway);
    assert_eq!(
        (
            fargate.spot_base,
            fargate.spot_fargate_weight,
            fargate.spot_weight
        ),
        (1, 1, 3)
    );
    assert!(fargate.interface_endpoints);
    assert!(!fargate.telemetry);
    assert_eq!(fargate.interface_endpoint_count(), 4);
    assert_eq!(fargate.secrets(), 8);
}

#[test]
fn lambda_requests_cost_20_cents_per_million() {
    // 3 M × $0.20 = $0.60.
    assert_close(
        model().bill(&lambda(), 3e6).line("Lambda requests"),
        0.60,
        1e-12,
    );
}

#[test]
fn lambda_duration_bills_cpu_scaled_handler_time_plus_dynamodb_waits_and_init_on_cold_starts() {
    let model = model();
    // 512 MB gets 512/1769 of a vCPU: 0.5 ms × 1769/512 = 1.7275 ms, + 1 DynamoDB call × 5 ms
    // (all-oauth traffic: 3 calls per 3-request login) = 6.7275 → 7 ms billed.
    assert_eq!(model.lambda_billed_ms(512), 7.0);
    // Cold: (10 + 0.5) × 1769/512 = 36.278 + 5 = 41.278 → 42 ms, 35 ms more than warm.
    assert_eq!(model.lambda_billed_cold_ms(512), 42.0);
    // 1 M × (7 + 0.01 × 35) ms = 7,350 s × 0.5 GB × $0.0000133334 (arm64) = $0.04900025.
    assert_close(
        model.bill(&lambda(), 1e6).line("Lambda duration"),
        7350.0 * 0.5 * 0.0000133334,
        1e-12,
    );
    // x86_64 at 1,769 MB: one full core, 0.5 + 5 → 6 ms warm; (10.5 + 5) → 16 ms cold; 10 ms extra.
    // 1 M × (6 + 0.1) ms = 6,100 s × (1769/1024) GB × $0.0000166667.
    let x86 = Deployment::Lambda(LambdaStack {
        architecture: Architecture::X86_64,
        memory_mb: 1769,
        ..LambdaStack::default()
    });
    assert_close(
        model.bill(&x86, 1e6).line("Lambda duration"),
        6100.0 * (1769.0 / 1024.0) * 0.0000166667,
        1e-12,
    );
}

#[test]
fn provisioned_concurrency_bills_the_environments_all_month_and_its_invocations_at_the_lower_price()
{
    let model = model();
    // x86_64 at 1,024 MB, 2 environments, us-east-1.
    let stack = LambdaStack {
        architecture: Architecture::X86_64,
        memory_mb: 1024,
        provisioned_concurrency: 2,
        ..LambdaStack::default()
    };
    let option = Deployment::Lambda(stack.clone());
    model
        .check(&option)
        .expect("x86_64 provisioned prices are known");
    // Warm: 0.5 ms × 1769/1024 = 0.8638 + 5 ms (one DynamoDB call) = 5.8638 → 6 ms billed.
    assert_eq!(model.lambda_billed_ms(1024), 6.0);
    // 100 M a month: 38.05 req/s mean, × 3 at the peak = 114.16 req/s × 6 ms = 0.685 environments
    // busy at the peak, fewer than 2: every invocation runs on a provisioned environment.
    let bill = model.bill(&option, 1e8);
    assert_eq!(model.lambda_provisioned_share(&stack, 1e8), 1.0);
    // The environments: 2 × 1 GB × 2,628,000 s × $0.0000041667 = $21.9001752.
    assert_close(
        bill.line("Lambda provisioned concurrency"),
        2.0 * MONTH_SECONDS * 0.0000041667,
        1e-9,
    );
    // Their invocations: 100 M × 6 ms = 600,000 s × 1 GB × $0.0000097222 = $5.83332.
    assert_close(bill.line("Lambda provisioned duration"), 5.83332, 1e-9);
    // Nothing left for the on-demand price, no cold starts, so no secret reads.
    assert_eq!(bill.line("Lambda duration"), 0.0);
    assert_eq!(bill.line("Secrets Manager API calls"), 0.0);
    // 1 B a month: 380.5 × 3 = 1,141.6 req/s × 6 ms = 6.85 environments at the peak; 2 of them serve
    // 2 / 6.85 = 29.2% of the invocations, the rest is on demand with its cold starts.
    let peak = 1e9 / MONTH_SECONDS * 3.0 * 0.006;
    let share = 2.0 / peak;
    assert_close(model.lambda_provisioned_share(&stack, 1e9), share, 1e-12);
    let bill = model.bill(&option, 1e9);
    assert_close(
        bill.line("Lambda provisioned duration"),
        1e9 * share * 0.006 * 0.0000097222,
        1e-9,
    );
    // On demand: cold 16 ms ((10 + 0.5) × 1769/1024 = 18.14 + 5 = 23.14 → 24 ms), 18 ms over warm.
    assert_eq!(model.lambda_billed_cold_ms(1024), 24.0);
    assert_close(
        bill.line("Lambda duration"),
        1e9 * (1.0 - share) * (0.006 + 0.01 * 0.018) * 0.0000166667,
        1e-9,
    );
    assert_close(
        bill.line("Secrets Manager API calls"),
        1e9 * (1.0 - share) * 0.01 * 8.0 / 1e4 * 0.05,
        1e-9,
    );
    // arm64: no source gave its provisioned prices, so the option is refused with the reason.
    let arm = Deployment::Lambda(LambdaStack {
        architecture: Architecture::Arm64,
        ..stack
    });
    match model.check(&arm) {
        Err(CostError::MissingPrice(why)) => {
            assert!(why.contains("lambda.provisioned_gb_second.arm64"), "{why}")
        }
        other => panic!("expected a missing price, got {other:?}"),
    }
}

#[test]
fn the_http_api_charges_once_per_request_on_both_stacks() {
    let model = model();
    // 3 M × $1.00: the Lambda stack's one API serves both domains; the Fargate stack's two APIs
    // split the requests between them, so the count is the same.
    assert_close(
        model.bill(&lambda(), 3e6).line("HTTP API requests"),
        3.0,
        1e-12,
    );
    assert_close(
        model.bill(&fargate(), 3e6).line("HTTP API requests"),
        3.0,
        1e-12,
    );
}

#[test]
fn dynamodb_units_follow_the_flows_and_the_item_sizes() {
    let model = model();
    // OAuth login: a 340-byte session is put (1 WRU) and deleted (1 WRU), read once (1 RRU), over
    // 3 requests: 2/3 WRU and 1/3 RRU per request.
    let [oauth, device, other] = model.store_use();
    assert_close(oauth.write_units, 2.0 / 3.0, 1e-12);
    assert_close(oauth.read_units, 1.0 / 3.0, 1e-12);
    // Device, 1,100-byte certificate (2 WRU per write, 1 RRU per read): reads 1 (empty query) + 1 +
    // 1 + 1 + 1 + 1 (two items, 2,200 bytes) = 6; writes 2 × 2 (transactional put) + 2 × 2 × 2
    // (transactional put and update) = 12; over 3 requests.
    assert_close(device.read_units, 2.0, 1e-12);
    assert_close(device.write_units, 4.0, 1e-12);
    assert_eq!(other, StoreUse::default());
    // 3 M oauth requests: 2 M WRU × $0.625 = $1.25; 1 M RRU × $0.125 = $0.125.
    let bill = model.bill(&lambda(), 3e6);
    assert_close(bill.line("DynamoDB writes"), 1.25, 1e-12);
    assert_close(bill.line("DynamoDB reads"), 0.125, 1e-12);
    // A 1,000-byte certificate fits one WRU per write: 2 × 1 + 4 × 1 = 6 per 3 requests.
    let mut smaller = model.clone();
    smaller.assumptions.certificate_item_bytes = 1000.0;
    assert_close(smaller.store_use()[1].write_units, 2.0, 1e-12);
    // A 2,100-byte one makes the renewal's two-item query 2 RRU: 1 + 4 × 1 + 2 = 7 per 3 requests.
    let mut larger = model.clone();
    larger.assumptions.certificate_item_bytes = 2100.0;
    assert_close(larger.store_use()[1].read_units, 7.0 / 3.0, 1e-12);
    // The mix averages: 70% oauth, 30% device → 0.7 × 2/3 + 0.3 × 4 WRU.
    let mut mixed = model.clone();
    mixed.mix = mix(0.7, 0.3, 0.0);
    assert_close(
        mixed.mean_store_use().write_units,
        0.7 * 2.0 / 3.0 + 0.3 * 4.0,
        1e-12,
    );
    // Device traffic makes 8 DynamoDB calls per 3 requests: 0.7 × 1 + 0.3 × 8/3 = 1.5 per request.
    assert_close(mixed.mean_store_use().calls, 1.5, 1e-12);
}

#[test]
fn read_and_write_units_round_up_per_started_block() {
    assert_eq!(write_units(1.0), 1.0);
    assert_eq!(write_units(1024.0), 1.0);
    assert_eq!(write_units(1025.0), 2.0);
    assert_eq!(read_units(0.0), 1.0);
    assert_eq!(read_units(4096.0), 1.0);
    assert_eq!(read_units(4097.0), 2.0);
}

#[test]
fn secrets_manager_bills_each_secret_and_the_reads_at_each_start() {
    let model = model();
    let bill = model.bill(&lambda(), 1e6);
    // 8 secrets × $0.40.
    assert_close(bill.line("Secrets Manager secrets"), 3.20, 1e-12);
    // 1 M × 0.01 cold starts = 10,000 starts × 8 reads = 80,000 calls × $0.05 / 10k = $0.40.
    assert_close(bill.line("Secrets Manager API calls"), 0.40, 1e-12);
    // Fargate: 2 tasks × 30 starts × 8 reads = 480 calls × $0.05 / 10k = $0.0024, whatever the traffic.
    let bill = model.bill(&fargate(), 1e6);
    assert_close(bill.line("Secrets Manager secrets"), 3.20, 1e-12);
    assert_close(bill.line("Secrets Manager API calls"), 0.0024, 1e-12);
}

#[test]
fn cloudwatch_logs_ingest_the_measured_bytes_per_request() {
    let model = model();
    // Lambda: app 358 + Lambda 519 + access log 241 = 1,118 bytes × 1 M = 1.04122 GB × $0.50.
    assert_close(
        model.bill(&lambda(), 1e6).line("CloudWatch Logs ingestion"),
        1118e6 / BYTES_PER_GB * 0.50,
        1e-12,
    );
    // Fargate: app 358 + access log 241 = 599 bytes × 100 M = 55.79 GB × $0.50 = $27.89.
    assert_close(
        model
            .bill(&fargate(), 1e8)
            .line("CloudWatch Logs ingestion"),
        599e8 / BYTES_PER_GB * 0.50,
        1e-12,
    );
    // The mix weighs the kinds: 70% oauth (358) + 30% device (518) = 406 app bytes.
    let mut mixed = model.clone();
    mixed.mix = mix(0.7, 0.3, 0.0);
    assert_close(mixed.app_log_bytes(), 406.0, 1e-9);
}

#[test]
fn the_platform_and_access_log_defaults_are_the_sizes_of_example_lines() {
    // Lambda's system records for one traced invocation in the JSON log format, each with its newline.
    let start = serde_json::json!({
        "time": "2026-12-04T06:40:00.123Z",
        "type": "platform.start",
        "record": {"requestId": "3f5ad2c1-6f6b-4c7e-9b1e-2a4f0c9d8e7f", "version": "7"}
    })
    .to_string();
    let report = serde_json::json!({
        "time": "2026-12-04T06:40:00.132Z",
        "type": "platform.report",
        "record": {
            "requestId": "3f5ad2c1-6f6b-4c7e-9b1e-2a4f0c9d8e7f",
            "metrics": {"durationMs": 8.12, "billedDurationMs": 9, "memorySizeMB": 512, "maxMemoryUsedMB": 15},
            "tracing": {
                "spanId": "0a1b2c3d4e5f6a7b",
                "type": "X-Amzn-Trace-Id",
                "value": "Root=1-6750a3c0-1a2b3c4d5e6f7a8b9c0d1e2f;Parent=0a1b2c3d4e5f6a7b;Sampled=1"
            },
            "status": "success"
        }
    })
    .to_string();
    assert_eq!(
        (start.len() + 1 + report.len() + 1) as f64,
        Assumptions::default().lambda_platform_log_bytes
    );
    // The HTTP API access log line in the stacks' JSON format.
    let access = serde_json::json!({
        "requestId": "Kx1YdhCmoAMEbcA=",
        "time": "1764835200000",
        "domain": "api.example.com",
        "method": "POST",
        "path": "/oauth/authorize/googledrive",
        "status": "200",
        "latencyMs": "12",
        "integrationError": "-",
        "sourceIp": "203.0.113.10",
        "clientCertSerial": "-"
    })
    .to_string();
    assert_eq!(
        (access.len() + 1) as f64,
        Assumptions::default().access_log_bytes
    );
}

#[test]
fn x_ray_traces_the_first_request_of_each_busy_second_then_five_percent() {
    let model = model();
    // 1 request/s on average: a second is busy with probability 1 − e^(−1) = 0.632121, so the
    // reservoir traces 2,628,000 × 0.6321206 = 1,661,212.8; 5% of the other 966,787.2 adds 48,339.4.
    let expected = MONTH_SECONDS * (1.0 - (-1.0f64).exp());
    let expected = expected + 0.05 * (MONTH_SECONDS - expected);
    assert_close(model.lambda_traces(MONTH_SECONDS), expected, 1e-6);
    assert_close(expected, 1_709_552.2, 0.1);
    // × $5 per million = $8.5478.
    assert_close(
        model.bill(&lambda(), MONTH_SECONDS).line("X-Ray traces"),
        expected / 1e6 * 5.0,
        1e-9,
    );
    // At a trickle nearly every request is the first of its second.
    assert_close(model.lambda_traces(1000.0), 1000.0, 0.5);
    // Tracing off: no line.
    let off = Deployment::Lambda(LambdaStack {
        tracing: false,
        ..LambdaStack::default()
    });
    assert_eq!(model.bill(&off, 1e6).line("X-Ray traces"), 0.0);
    assert!(
        model
            .bill(&off, 1e6)
            .lines
            .iter()
            .all(|l| l.name != "X-Ray traces")
    );
}

#[test]
fn fargate_tasks_pay_on_demand_for_the_base_and_the_spot_price_for_three_quarters_of_the_rest() {
    let model = model();
    // 0.25 vCPU × $0.04048 + 0.5 GB × $0.004445 = $0.0123425 per task-hour. 2 tasks: 1 base, the
    // other 1:3 → 1.25 on demand + 0.75 Spot at 70% off = 1.475 × 730 h × $0.0123425 = $13.2898.
    let expected = 1.475 * 730.0 * 0.0123425;
    assert_close(
        model.bill(&fargate(), 1e6).line("Fargate tasks"),
        expected,
        1e-9,
    );
    // No Spot: 2 × 730 × 0.0123425 = $18.02.
    let no_spot = Deployment::Fargate(FargateStack {
        spot_weight: 0,
        ..FargateStack::default()
    });
    assert_close(
        model.bill(&no_spot, 1e6).line("Fargate tasks"),
        2.0 * 730.0 * 0.0123425,
        1e-9,
    );
    // arm64 runs no Spot: 2 × 730 × (0.25 × 0.03238 + 0.5 × 0.00356) = $14.417.
    let arm = Deployment::Fargate(FargateStack {
        architecture: Architecture::Arm64,
        ..FargateStack::default()
    });
    assert_close(
        model.bill(&arm, 1e6).line("Fargate tasks"),
        2.0 * 730.0 * (0.25 * 0.03238 + 0.5 * 0.00356),
        1e-9,
    );
}

#[test]
fn fargate_task_count_follows_the_peak_rate() {
    let model = model();
    let stack = FargateStack::default();
    // One task may take 4,000 × 0.25 × 0.6 = 600 requests/s at the peak.
    assert_close(model.fargate_task_capacity_rps(&stack), 600.0, 1e-12);
    // 1 B/month: 380.5/s mean, 1,141.6/s peak → 2 tasks (the minimum).
    assert_eq!(model.fargate_tasks(&stack, 1e9), 2);
    // 3 B/month: 3,424.7/s peak → 6 tasks.
    assert_eq!(model.fargate_tasks(&stack, 3e9), 6);
    // Exactly 1,200/s at the peak (400/s mean) fits 2 tasks, not 3.
    assert_eq!(model.fargate_tasks(&stack, 400.0 * MONTH_SECONDS), 2);
}

#[test]
fn the_alb_bills_its_hours_and_the_processed_bytes_dimension() {
    let model = model();
    let bill = model.bill(&fargate(), 1e8);
    // 730 h × $0.0225 = $16.425.
    assert_close(bill.line("Load balancer hours"), 16.425, 1e-12);
    // 100 M × (800 + 200) bytes = 93.13 GB over 730 h = 0.1276 GB/h = 0.1276 LCU (new connections:
    // 38.05/s × 0.05 / 25 = 0.076 LCU, smaller) → 93.13 LCU-hours × $0.008 = $0.745.
    assert_close(
        bill.line("Load balancer capacity units"),
        1e11 / BYTES_PER_GB * 0.008,
        1e-12,
    );
}

#[test]
fn a_nat_gateway_bills_hours_data_and_its_elastic_ip() {
    let model = model();
    let bill = model.bill(&fargate(), 1e8);
    // 730 × $0.045 = $32.85; its Elastic IP 730 × $0.005 = $3.65.
    assert_close(bill.line("NAT gateway hours"), 32.85, 1e-12);
    assert_close(bill.line("Public IPv4 addresses"), 3.65, 1e-12);
    // Provider calls: 100 M oauth requests × 2,000 bytes = 186.26 GB × $0.045 = $8.38.
    assert_close(
        bill.line("NAT gateway data"),
        2e11 / BYTES_PER_GB * 0.045,
        1e-12,
    );
    // Without interface endpoints the log bytes (358 per request) go through the NAT gateway too.
    let no_endpoints = Deployment::Fargate(FargateStack {
        interface_endpoints: false,
        ..FargateStack::default()
    });
    let bill = model.bill(&no_endpoints, 1e8);
    assert_close(
        bill.line("NAT gateway data"),
        (2e11 + 358e8) / BYTES_PER_GB * 0.045,
        1e-12,
    );
    assert_eq!(bill.line("Interface endpoints"), 0.0);
}

#[test]
fn public_ips_replace_the_nat_gateway_with_one_address_per_task() {
    let model = model();
    let public = Deployment::Fargate(FargateStack {
        egress: Egress::PublicIp,
        ..FargateStack::default()
    });
    let bill = model.bill(&public, 1e8);
    // 2 tasks × 730 h × $0.005 = $7.30; no NAT lines.
    assert_close(bill.line("Public IPv4 addresses"), 7.30, 1e-12);
    assert!(bill.lines.iter().all(|line| !line.name.starts_with("NAT")));
    // 6 tasks at 3 B: 6 × 730 × 0.005 = $21.90.
    assert_close(
        model.bill(&public, 3e9).line("Public IPv4 addresses"),
        21.90,
        1e-12,
    );
}

#[test]
fn interface_endpoints_bill_per_zone_hour_and_per_gb() {
    let model = model();
    // 4 endpoints × 2 zones × 730 h × $0.01 = $58.40, + 100 M × 358 log bytes = 33.34 GB × $0.01.
    assert_close(
        model.bill(&fargate(), 1e8).line("Interface endpoints"),
        58.40 + 358e8 / BYTES_PER_GB * 0.01,
        1e-12,
    );
    // Telemetry adds the X-Ray endpoint (5 × 2 × 730 × $0.01 = $73.00) and every request's 1,500
    // trace bytes, and an X-Ray line: 100 M traces (the app samples all) × $5 per million = $500.
    let telemetry = Deployment::Fargate(FargateStack {
        telemetry: true,
        ..FargateStack::default()
    });
    let bill = model.bill(&telemetry, 1e8);
    assert_close(
        bill.line("Interface endpoints"),
        73.0 + (358e8 + 1500e8) / BYTES_PER_GB * 0.01,
        1e-9,
    );
    assert_close(bill.line("X-Ray traces"), 500.0, 1e-9);
}

#[test]
fn a_bill_total_is_the_sum_of_its_lines_and_the_largest_come_first() {
    let model = model();
    let bill = model.bill(&fargate(), 1e6);
    let sum: f64 = bill.lines.iter().map(|line| line.amount).sum();
    assert_close(bill.total(), sum, 1e-12);
    let largest = bill.largest(3);
    assert_eq!(largest[0].name, "Interface endpoints");
    assert!(largest[0].amount >= largest[1].amount && largest[1].amount >= largest[2].amount);
}

#[test]
fn the_break_even_is_where_the_two_totals_meet() {
    let model = model();
    let Crossing::At(volume) = model.break_even(&lambda(), &fargate()) else {
        panic!("the shipped stacks cross");
    };
    let difference = |v: f64| model.monthly_cost(&lambda(), v) - model.monthly_cost(&fargate(), v);
    assert!(difference(volume * 0.99) < 0.0, "Lambda cheaper just below");
    assert!(
        difference(volume * 1.01) > 0.0,
        "Fargate cheaper just above"
    );
    // Lambda is cheaper at 1 M; the same pair reversed says so from the other side.
    assert!(difference(1e6) < 0.0);
    assert_eq!(
        model.break_even(&fargate(), &fargate()),
        Crossing::SecondCheaperThroughout
    );
}

#[test]
fn regional_prices_that_were_not_found_use_us_east_1_and_are_marked() {
    let prices = Prices::for_region("eu-west-1").expect("embedded");
    assert_eq!(prices.get("alb.hour"), 0.0252, "found for Ireland");
    assert!(!prices.is_fallback("alb.hour"));
    assert_eq!(
        prices.get("dynamodb.write_request_units_per_million"),
        0.625
    );
    assert!(prices.is_fallback("dynamodb.write_request_units_per_million"));
    assert!(
        prices.entries["dynamodb.write_request_units_per_million"]
            .note
            .as_deref()
            .is_some_and(|note| note.starts_with("not found"))
    );
    // Found for Ireland (the same amount as us-east-1, but not a stand-in).
    assert_eq!(prices.get("fargate.vcpu_hour.x86_64"), 0.04048);
    assert!(!prices.is_fallback("fargate.vcpu_hour.x86_64"));
    assert_eq!(prices.get("vpc.nat_gateway_hour"), 0.048);
    // Ireland's own Lambda prices, from the AWS calculator table.
    assert_eq!(
        prices.get("lambda.provisioned_gb_second.x86_64"),
        0.000004646
    );
    assert!(!prices.is_fallback("lambda.provisioned_gb_second.x86_64"));
    assert_eq!(
        prices.stand_ins(),
        [
            "alb.lcu_hour",
            "dynamodb.write_request_units_per_million",
            "dynamodb.read_request_units_per_million"
        ]
    );
    assert!(!prices.stand_ins().contains(&"alb.hour"));
    assert!(Prices::us_east_1().stand_ins().is_empty());
    // Prices no region has stay unknown, and an option that needs them is refused.
    assert_eq!(prices.try_get("lambda.provisioned_gb_second.arm64"), None);
    assert_eq!(
        prices.unknown(),
        [
            "lambda.provisioned_gb_second.arm64",
            "lambda.provisioned_duration_gb_second.arm64"
        ]
    );
    let model = CostModel::new(
        prices,
        measurements(),
        Assumptions::default(),
        Mix::default(),
    );
    let provisioned = Deployment::Lambda(LambdaStack {
        provisioned_concurrency: 2,
        ..LambdaStack::default()
    });
    assert!(matches!(
        model.check(&provisioned),
        Err(CostError::MissingPrice(_))
    ));
    assert!(Prices::for_region("ap-south-9").is_err());
}

#[test]
fn every_us_east_1_price_has_a_source_and_a_date() {
    let prices = Prices::us_east_1();
    for key in PRICE_KEYS {
        let entry = &prices.entries[key];
        assert!(!entry.retrieved.is_empty(), "{key}");
        match entry.value {
            Some(_) => assert!(
                entry
                    .source
                    .as_deref()
                    .is_some_and(|s| s.starts_with("https://")),
                "{key} has no source"
            ),
            None => assert!(
                entry
                    .note
                    .as_deref()
                    .is_some_and(|n| n.starts_with("not found")),
                "{key} is null without saying why"
            ),
        }
    }
    for (region, text) in REGIONS {
        let parsed = Prices::from_json(text).unwrap_or_else(|e| panic!("{region}: {e}"));
        assert_eq!(parsed.region, region);
    }
}

#[test]
fn a_price_file_with_an_unknown_key_a_negative_price_or_no_source_is_rejected() {
    let text = REGIONS[0].1;
    let unknown = text.replacen("\"alb.hour\"", "\"alb.hours\"", 1);
    assert!(matches!(
        Prices::from_json(&unknown),
        Err(CostError::InvalidPrices(_))
    ));
    let negative = text.replacen("\"value\": 0.0225", "\"value\": -0.0225", 1);
    assert!(Prices::from_json(&negative).is_err());
    let no_source = text.replacen(
        "\"source\": \"https://cloudburn.io/blog/aws-nat-gateway-pricing\"",
        "\"source\": null",
        1,
    );
    assert!(Prices::from_json(&no_source).is_err());
    assert!(Prices::from_json("{").is_err());
    // A null price with nothing to stand in for it (the us-east-1 table itself) is refused rather
    // than billed as zero.
    let unknown_alb = text.replacen("\"value\": 0.0225", "\"value\": null", 1);
    assert!(matches!(
        Prices::from_json(&unknown_alb),
        Err(CostError::InvalidPrices(message)) if message.contains("alb.hour")
    ));
}

#[test]
fn mixes_parse_and_bad_mixes_are_refused_with_a_reason() {
    assert_eq!(
        Mix::parse("oauth=0.7,device=0.3").unwrap(),
        mix(0.7, 0.3, 0.0)
    );
    assert_eq!(Mix::parse(" other=1 ").unwrap(), mix(0.0, 0.0, 1.0));
    for bad in [
        "oauth=0.7",
        "oauth=0.7,device=0.4",
        "oauth=x,device=1",
        "oauth",
        "files=1",
        "oauth=1,oauth=0",
        "oauth=-1,device=2",
        "",
    ] {
        assert!(
            matches!(Mix::parse(bad), Err(CostError::InvalidMix(_))),
            "`{bad}` accepted"
        );
    }
}

#[test]
fn assumptions_are_set_by_name_and_validated() {
    let mut assumptions = Assumptions::default();
    assumptions.set("peak_to_average", "4").unwrap();
    assert_eq!(assumptions.peak_to_average, 4.0);
    assert!(assumptions.set("peak_to_averag", "4").is_err());
    assert!(assumptions.set("peak_to_average", "four").is_err());
    assert!(assumptions.set("lambda_cold_start_rate", "1.5").is_err());
    assert!(assumptions.set("fargate_headroom", "1").is_err());
    assert!(assumptions.set("trace_bytes", "-1").is_err());
    let described = Assumptions::default().describe();
    assert!(described.iter().any(|a| {
        a.name == "session_item_bytes"
            && a.description
                .contains("scripts/with-moto cargo test --locked --test cost measured")
    }));
}

#[test]
fn an_assumptions_file_overrides_what_it_names_and_rejects_unknown_keys() {
    let file = AssumptionsFile::from_toml(
        "requests = \"3M\"\nregion = \"eu-west-1\"\nmix = \"oauth=0.5,device=0.5\"\n\
         [assumptions]\npeak_to_average = 4.0\n[lambda]\nmemory_mb = 1024\ntracing = false\n\
         [fargate]\negress = \"public_ip\"\narchitecture = \"ARM64\"\n",
    )
    .unwrap();
    assert_eq!(file.requests.as_deref(), Some("3M"));
    assert_eq!(file.assumptions.peak_to_average, 4.0);
    assert_eq!(file.assumptions.hours_per_month, 730.0, "untouched");
    assert_eq!(file.lambda.memory_mb, 1024);
    assert!(!file.lambda.tracing);
    assert_eq!(file.lambda.architecture, Architecture::Arm64, "untouched");
    assert_eq!(file.fargate.egress, Egress::PublicIp);
    assert_eq!(file.fargate.architecture, Architecture::Arm64);
    for bad in [
        "[assumptions]\npeak_to_averag = 4.0\n",
        "[lambda]\nmemory = 1024\n",
        "[fargate]\negress = \"nat-gateway\"\n",
        "[assumptions]\nfargate_headroom = 2.0\n",
        "mix = \"oauth=2\"\n",
        "requests = 3\n",
        "[[",
    ] {
        assert!(AssumptionsFile::from_toml(bad).is_err(), "accepted: {bad}");
    }
}

#[test]
fn volumes_and_money_format_and_parse() {
    assert_eq!(parse_volume("3M").unwrap(), 3e6);
    assert_eq!(parse_volume("250k").unwrap(), 2.5e5);
    assert_eq!(parse_volume("1.5B").unwrap(), 1.5e9);
    assert_eq!(parse_volume("3_000_000").unwrap(), 3e6);
    for bad in ["", "M", "three", "-1M", "1e20"] {
        assert!(parse_volume(bad).is_err(), "accepted `{bad}`");
    }
    assert_eq!(format_volume(1e5), "100k");
    assert_eq!(format_volume(4.87e8), "487M");
    assert_eq!(format_money(1234567.891), "$1,234,567.89");
    assert_eq!(format_money(0.004), "$0.00");
}

#[test]
fn the_committed_measurements_and_the_sample_parse() {
    let committed = Measurements::from_json(include_str!("../../docs/cost/results.json"))
        .expect("the committed results parse");
    assert!(!committed.sample);
    let sample =
        Measurements::from_json(include_str!("../../benches/data/sample-measurements.json"))
            .expect("the sample parses");
    assert!(sample.sample);
    assert!(Measurements::from_json("{\"measurements\":{}}").is_err());
}

#[test]
fn the_bill_table_marks_lines_priced_with_a_us_east_1_stand_in() {
    let prices = Prices::for_region("eu-west-1").expect("embedded");
    let model = CostModel::new(
        prices,
        measurements(),
        Assumptions::default(),
        Mix::default(),
    );
    let table = super::report::bill_table(&model, &model.bill(&fargate(), 1e6));
    // The ALB hour and the task prices were found for Ireland; the LCU and DynamoDB prices were not.
    assert!(
        table.contains("| Load balancer hours | internal ALB, 730 h × $0.0252 |"),
        "{table}"
    );
    assert!(table.contains("| Fargate tasks |"), "{table}");
    assert!(
        table.contains("| Load balancer capacity units† |"),
        "{table}"
    );
    assert!(table.contains("| DynamoDB writes† |"), "{table}");
    assert!(table.contains("| **Total** | |"), "{table}");
    // us-east-1 marks nothing.
    let us = self::model();
    let table = super::report::bill_table(&us, &us.bill(&fargate(), 1e6));
    assert!(!table.contains('†'), "{table}");
}

#[test]
fn the_answer_names_the_cheaper_stack_and_the_break_even() {
    let model = model();
    let text = super::report::answer(&model, &[lambda(), fargate()], 1e6);
    let (l, f) = (
        model.monthly_cost(&lambda(), 1e6),
        model.monthly_cost(&fargate(), 1e6),
    );
    assert!(l < f);
    assert!(
        text.contains(&format!(
            "Cheaper: Lambda at {} per month, {} less than Fargate ({}).",
            format_money(l),
            format_money(f - l),
            format_money(f)
        )),
        "{text}"
    );
    assert!(text.contains("Break-even: "), "{text}");
    // One stack: its bill, no comparison.
    let text = super::report::answer(&model, &[fargate()], 1e6);
    assert!(
        !text.contains("Cheaper:") && text.contains("Fargate tasks"),
        "{text}"
    );
}
