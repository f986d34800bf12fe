//! Unit tests of the cost model against hand-computed cases.

use super::report::{cost_table, format_money, format_volume};
use super::*;

const SAMPLE: &str = include_str!("../../benches/data/sample-measurements.json");

fn measurements(handler_ms: f64, init_ms: f64) -> Measurements {
    Measurements {
        sample: false,
        lambda_handler_ms: handler_ms,
        lambda_init_ms: init_ms,
        lambda_peak_rss_mb: 14.0,
        server_req_per_s_per_vcpu: 5000.0,
        mean_response_bytes: 420.0,
        machine: None,
        commit: None,
    }
}

fn model(handler_ms: f64, init_ms: f64) -> CostModel {
    CostModel::new(
        Prices::us_east_1(),
        measurements(handler_ms, init_ms),
        Assumptions::default(),
    )
}

fn sample_model() -> CostModel {
    let measurements = Measurements::from_json(SAMPLE).expect("the sample parses");
    CostModel::new(Prices::us_east_1(), measurements, Assumptions::default())
}

fn assert_close(actual: f64, expected: f64, tolerance: f64) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "expected {expected}, got {actual} (tolerance {tolerance})"
    );
}

const ARM_128_URL: DeploymentOption = DeploymentOption::Lambda {
    memory_mb: 128,
    architecture: Architecture::Arm64,
    front_door: FrontDoor::FunctionUrl,
};

fn lambda(memory_mb: u32, architecture: Architecture, front_door: FrontDoor) -> DeploymentOption {
    DeploymentOption::Lambda {
        memory_mb,
        architecture,
        front_door,
    }
}

#[test]
fn one_million_requests_billed_2_ms_at_128_mb_arm64_behind_a_function_url_cost_0_20333335() {
    // 0.1 ms on a full core takes 0.1 × 1769 / 128 = 1.38 ms at 128 MB: billed 2 ms.
    let mut model = model(0.1, 9.0);
    model.assumptions.lambda_cold_start_rate = 0.0;
    assert_eq!(model.lambda_billed_ms(128), 2.0);

    let cost = model.monthly_cost(ARM_128_URL, 1e6);

    // $0.20 of requests + 1M × 0.002 s × 0.125 GB × $0.0000133334.
    let expected = 0.20 + 1e6 * 0.002 * 0.125 * 0.0000133334;
    assert_close(expected, 0.20333335, 1e-12);
    assert_close(cost, expected, 1e-12);
}

#[test]
fn billed_duration_scales_with_the_inverse_of_the_cpu_share_and_rounds_up_to_the_millisecond() {
    let model = model(0.15, 9.0);

    // 0.15 × 1769 / M: 2.07 ms at 128 MB, 1.04 ms at 256 MB, 0.52 ms at 512 MB.
    assert_eq!(model.lambda_billed_ms(128), 3.0);
    assert_eq!(model.lambda_billed_ms(256), 2.0);
    assert_eq!(model.lambda_billed_ms(512), 1.0);
    // (9 + 0.15) × 1769 / 128 = 126.46 ms.
    assert_eq!(model.lambda_billed_cold_ms(128), 127.0);
    // Above 1,769 MB the single-threaded handler gets no faster.
    assert_close(model.lambda_cpu_share(3538), 1.0, 0.0);
}

#[test]
fn a_duration_of_exactly_two_milliseconds_is_billed_as_two_not_three() {
    let model = model(2.0 * 128.0 / 1769.0, 0.0);

    assert_eq!(model.lambda_billed_ms(128), 2.0);
}

#[test]
fn io_wait_is_added_to_the_billed_duration_without_cpu_scaling() {
    let mut model = model(0.15, 9.0);
    model.assumptions.lambda_io_wait_ms = 10.0;

    // ceil(2.07 + 10) at 128 MB, ceil(0.52 + 10) at 512 MB.
    assert_eq!(model.lambda_billed_ms(128), 13.0);
    assert_eq!(model.lambda_billed_ms(512), 11.0);
}

#[test]
fn cold_starts_bill_the_init_duration_at_the_stated_rate() {
    let model = model(0.15, 9.0);

    let part = model.breakdown(ARM_128_URL, 1e6);

    // 1% of 1M invocations pay 127 − 3 = 124 extra ms at 0.125 GB.
    assert_close(part.cold_start, 1e4 * 0.124 * 0.125 * 0.0000133334, 1e-12);
    assert_close(part.compute, 1e6 * 0.003 * 0.125 * 0.0000133334, 1e-12);
    assert_close(part.requests, 0.20, 1e-12);
}

#[test]
fn x86_64_duration_is_billed_at_the_x86_64_price() {
    let model = model(0.15, 9.0);

    let part = model.breakdown(
        lambda(512, Architecture::X86_64, FrontDoor::FunctionUrl),
        1e6,
    );

    assert_close(part.compute, 1e6 * 0.001 * 0.5 * 0.0000166667, 1e-12);
}

#[test]
fn http_and_rest_apis_add_their_per_request_charge() {
    let model = model(0.15, 9.0);
    let base = model.monthly_cost(ARM_128_URL, 1e6);

    let http = model.monthly_cost(lambda(128, Architecture::Arm64, FrontDoor::HttpApi), 1e6);
    let rest = model.monthly_cost(lambda(128, Architecture::Arm64, FrontDoor::RestApi), 1e6);

    assert_close(http - base, 1.00, 1e-9);
    assert_close(rest - base, 3.50, 1e-9);
}

#[test]
fn an_alb_front_door_costs_its_hours_its_public_addresses_and_its_lcus() {
    let model = model(0.15, 9.0);
    let option = lambda(128, Architecture::Arm64, FrontDoor::Alb);

    let idle = model.breakdown(option, 0.0).load_balancer;
    let busy = model.breakdown(option, 1e9).load_balancer;

    // 730 h × $0.0225 + 2 AZ × 730 h × $0.005.
    assert_close(idle, 16.425 + 7.3, 1e-9);
    // Processed bytes dominate: 1e9 × (800 + 420) bytes = 1,136.2 GB at 0.4 GB per LCU-hour for
    // Lambda targets; new connections need only 0.76 LCU.
    let lcu_hours = 1e9 * 1220.0 / 1_073_741_824.0 / 0.4;
    assert_close(busy, 16.425 + 7.3 + lcu_hours * 0.008, 1e-9);
}

#[test]
fn fargate_task_count_stays_at_the_minimum_until_the_peak_needs_more() {
    let model = model(0.15, 9.0);
    // One task may take 5000 × 0.25 × 0.6 = 750 req/s at the peak; two take 1,500 req/s, a peak
    // reached at a mean of 500 req/s = 1.314 B requests per 730-hour month.
    assert_close(model.fargate_task_capacity_rps(), 750.0, 1e-9);

    assert_eq!(model.fargate_tasks(0.0), 2);
    assert_eq!(model.fargate_tasks(1e9), 2);
    assert_eq!(model.fargate_tasks(1.314e9), 2);
    assert_eq!(model.fargate_tasks(1.315e9), 3);
    assert_eq!(model.fargate_tasks(1e10), 16);
}

#[test]
fn the_fargate_floor_is_x86_64_spot_with_public_ips_at_a_hand_computed_cost() {
    let model = model(0.15, 9.0);

    let floor = model.fargate_floor();
    let cost = model.monthly_cost(floor, 0.0);

    assert_eq!(
        floor,
        DeploymentOption::Fargate {
            architecture: Architecture::X86_64,
            spot: true,
            egress: Egress::PublicIp,
        }
    );
    // One on-demand and one Spot task (70% off) at 0.25 × $0.04048 + 0.5 × $0.004445 per hour,
    // 2 task public IPs, 4 interface endpoints in 2 AZs, the ALB's hours; no traffic.
    let task_month = (0.25 * 0.04048 + 0.5 * 0.004445) * 730.0;
    let expected =
        task_month * (1.0 + 0.3) + 2.0 * 730.0 * 0.005 + 4.0 * 2.0 * 730.0 * 0.01 + 730.0 * 0.0225;
    assert_close(cost, expected, 1e-9);
    assert_close(cost, 93.8380325, 1e-9);
}

#[test]
fn fargate_with_a_nat_gateway_pays_its_hours_its_elastic_ip_and_its_data() {
    let model = model(0.15, 9.0);
    let nat = DeploymentOption::Fargate {
        architecture: Architecture::Arm64,
        spot: false,
        egress: Egress::NatGateway,
    };
    let public = DeploymentOption::Fargate {
        architecture: Architecture::Arm64,
        spot: false,
        egress: Egress::PublicIp,
    };

    let difference = model.monthly_cost(nat, 1e8) - model.monthly_cost(public, 1e8);

    // NAT: 730 × ($0.045 + $0.005) + 1e8 × 200 bytes × $0.045/GB; public IP: 2 tasks × 730 × $0.005.
    let nat_cost = 730.0 * 0.05 + 1e8 * 200.0 / 1_073_741_824.0 * 0.045;
    assert_close(difference, nat_cost - 2.0 * 730.0 * 0.005, 1e-9);
}

#[test]
fn every_option_costs_at_least_as_much_at_a_higher_volume() {
    let model = sample_model();
    let volumes: Vec<f64> = (0..=180)
        .map(|step| 10f64.powf(3.0 + f64::from(step) / 20.0))
        .collect();

    for option in DeploymentOption::all() {
        let costs: Vec<f64> = volumes
            .iter()
            .map(|&volume| model.monthly_cost(option, volume))
            .collect();
        for (pair, volume) in costs.windows(2).zip(&volumes) {
            assert!(
                pair[1] >= pair[0],
                "{} gets cheaper after {volume}",
                option.label()
            );
        }
    }
}

#[test]
fn the_break_even_is_where_the_two_cost_curves_cross() {
    let model = sample_model();
    let break_evens = model.front_door_break_evens();
    let crossings: Vec<(DeploymentOption, DeploymentOption, f64)> = break_evens
        .iter()
        .filter_map(|found| match found.crossing {
            Crossing::At(volume) => Some((found.lambda, found.fargate, volume)),
            _ => None,
        })
        .collect();
    assert!(
        !crossings.is_empty(),
        "no front door breaks even: {break_evens:?}"
    );

    for (lambda, fargate, volume) in crossings {
        let lambda_cost = model.monthly_cost(lambda, volume);
        let fargate_cost = model.monthly_cost(fargate, volume);
        assert_close(lambda_cost, fargate_cost, 1e-6 * fargate_cost);
        assert!(
            model.monthly_cost(lambda, volume * 0.999)
                < model.monthly_cost(fargate, volume * 0.999)
        );
        assert!(
            model.monthly_cost(lambda, volume * 1.001)
                > model.monthly_cost(fargate, volume * 1.001)
        );
    }
}

#[test]
fn the_http_api_break_even_equals_the_intersection_of_the_two_cost_lines() {
    let model = sample_model();
    let lambda = model
        .cheapest_lambda(FrontDoor::HttpApi)
        .expect("a memory size fits");
    let floor = model.fargate_floor();
    // Below 1.3 B requests the floor keeps its minimum task count, so both curves are straight lines:
    // cost = fixed + slope × requests.
    let line = |option| {
        let fixed = model.monthly_cost(option, 0.0);
        (fixed, (model.monthly_cost(option, 1e8) - fixed) / 1e8)
    };
    let ((lambda_fixed, lambda_slope), (floor_fixed, floor_slope)) = (line(lambda), line(floor));
    let intersection = (floor_fixed - lambda_fixed) / (lambda_slope - floor_slope);

    let Crossing::At(volume) = model.break_even(lambda, floor).crossing else {
        panic!("the HTTP API front door should break even");
    };

    assert_close(volume, intersection, 1e-6 * intersection);
}

#[test]
fn a_function_url_never_breaks_even_because_every_fargate_request_pays_the_http_api() {
    let model = sample_model();
    let lambda = model
        .cheapest_lambda(FrontDoor::FunctionUrl)
        .expect("a memory size fits");

    let found = model.break_even(lambda, model.fargate_floor());

    assert_eq!(found.crossing, Crossing::LambdaCheaperThroughout);
}

#[test]
fn lambda_dearer_at_every_volume_is_reported_as_fargate_cheaper_throughout() {
    let mut prices = Prices::us_east_1();
    prices.lambda.per_million_requests = 1e9;
    let model = CostModel::new(prices, measurements(0.15, 9.0), Assumptions::default());

    let found = model.break_even(ARM_128_URL, model.fargate_floor());

    assert_eq!(found.crossing, Crossing::FargateCheaperThroughout);
}

#[test]
fn a_memory_size_below_the_peak_rss_is_not_viable_and_never_the_cheapest() {
    let mut model = model(0.15, 9.0);
    model.measurements.lambda_peak_rss_mb = 200.0;

    let cheapest = model.cheapest_lambda(FrontDoor::HttpApi);

    assert!(!model.lambda_fits(128));
    assert!(model.lambda_fits(256));
    assert!(
        matches!(cheapest, Some(DeploymentOption::Lambda { memory_mb, .. }) if memory_mb >= 256)
    );
    assert!(cost_table(&model).contains("peak RSS exceeds memory"));
}

#[test]
fn the_embedded_price_table_holds_the_list_prices_and_their_sources() {
    let prices = Prices::us_east_1();

    assert_eq!(prices.region, "us-east-1");
    assert_eq!(prices.retrieved, "2026-11-28");
    assert_eq!(prices.lambda.per_million_requests, 0.20);
    assert_eq!(prices.lambda.per_gb_second.x86_64, 0.0000166667);
    assert_eq!(prices.lambda.per_gb_second.arm64, 0.0000133334);
    assert_eq!(prices.lambda.billing_granularity_ms, 1.0);
    assert_eq!(prices.fargate.per_vcpu_hour.x86_64, 0.04048);
    assert_eq!(prices.fargate.per_gb_hour.x86_64, 0.004445);
    assert_eq!(prices.fargate.per_vcpu_hour.arm64, 0.03238);
    assert_eq!(prices.fargate.per_gb_hour.arm64, 0.00356);
    assert_eq!(prices.fargate.spot_discount, 0.70);
    assert_eq!(
        (prices.alb.per_hour, prices.alb.per_lcu_hour),
        (0.0225, 0.008)
    );
    assert_eq!(prices.api_gateway.http_api_per_million_requests, 1.00);
    assert_eq!(prices.api_gateway.rest_api_per_million_requests, 3.50);
    assert_eq!(prices.api_gateway.http_api_vpc_link_per_hour, 0.0);
    assert_eq!(
        (
            prices.vpc_interface_endpoint.per_az_hour,
            prices.vpc_interface_endpoint.per_gb
        ),
        (0.01, 0.01)
    );
    assert_eq!(
        (prices.nat_gateway.per_hour, prices.nat_gateway.per_gb),
        (0.045, 0.045)
    );
    assert_eq!(prices.public_ipv4.per_hour, 0.005);
    let names: Vec<&str> = prices
        .sources
        .iter()
        .map(|source| source.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "AWS Lambda pricing",
            "AWS Fargate pricing",
            "Elastic Load Balancing pricing",
            "Amazon API Gateway pricing",
            "AWS PrivateLink pricing",
            "Amazon VPC pricing"
        ]
    );
}

#[test]
fn a_price_file_overrides_the_embedded_table() {
    let text = DEFAULT_PRICES_JSON.replace(
        r#""per_million_requests": 0.20"#,
        r#""per_million_requests": 0.40"#,
    );
    let prices = Prices::from_json(&text).expect("the edited table is valid");
    let mut default_model = model(0.1, 9.0);
    default_model.assumptions.lambda_cold_start_rate = 0.0;
    let overridden = CostModel::new(
        prices,
        default_model.measurements.clone(),
        default_model.assumptions.clone(),
    );

    let difference =
        overridden.monthly_cost(ARM_128_URL, 1e6) - default_model.monthly_cost(ARM_128_URL, 1e6);

    assert_close(difference, 0.20, 1e-12);
}

#[test]
fn a_price_file_with_an_unknown_field_or_a_negative_price_is_rejected() {
    let typo = DEFAULT_PRICES_JSON.replace(r#""per_lcu_hour""#, r#""per_lcu_hours""#);
    let negative = DEFAULT_PRICES_JSON.replace(r#""per_hour": 0.005"#, r#""per_hour": -0.005"#);

    let typo = Prices::from_json(&typo).expect_err("a misspelt field is rejected");
    let negative = Prices::from_json(&negative).expect_err("a negative price is rejected");

    assert!(typo.to_string().contains("per_lcu_hours"), "{typo}");
    assert!(
        negative.to_string().contains("public_ipv4.per_hour"),
        "{negative}"
    );
}

#[test]
fn measurements_are_read_from_a_measurements_object_inside_a_larger_results_document() {
    let text = r#"{
        "generated_at": "2026-11-28T10:00:00Z",
        "machine": { "cores": 2, "cpu_model": "AMD EPYC 7B13", "git_commit": "abc123" },
        "wrk": { "apuntador": { "median_req_per_s": 30000 } },
        "measurements": {
            "lambda_handler_ms": 0.2, "lambda_init_ms": 8, "lambda_peak_rss_mb": 12,
            "server_req_per_s_per_vcpu": 15000, "mean_response_bytes": 300
        }
    }"#;

    let measurements = Measurements::from_json(text).expect("the document is accepted");

    assert_eq!(measurements.lambda_handler_ms, 0.2);
    assert_eq!(measurements.server_req_per_s_per_vcpu, 15000.0);
    assert_eq!(
        measurements.machine.as_deref(),
        Some("2 cores, AMD EPYC 7B13")
    );
    assert_eq!(measurements.commit.as_deref(), Some("abc123"));
    assert!(!measurements.sample);
}

#[test]
fn a_bare_measurements_object_is_accepted() {
    let text = r#"{ "handler_ms": 0.2, "cold_start_ms": 8, "peak_rss_mb": 12,
                    "req_per_s_per_vcpu": 15000, "response_bytes": 300, "machine": "laptop" }"#;

    let measurements = Measurements::from_json(text).expect("aliases are accepted");

    assert_eq!(measurements.lambda_init_ms, 8.0);
    assert_eq!(measurements.machine_or_unknown(), "laptop");
    assert_eq!(measurements.commit_or_unknown(), "unknown");
}

#[test]
fn measurements_missing_a_figure_or_with_a_zero_throughput_are_rejected_with_a_clear_message() {
    let missing = r#"{ "measurements": { "lambda_handler_ms": 0.2 } }"#;
    let zero = r#"{ "lambda_handler_ms": 0.2, "lambda_init_ms": 8, "lambda_peak_rss_mb": 12,
                    "server_req_per_s_per_vcpu": 0, "mean_response_bytes": 300 }"#;

    let missing = Measurements::from_json(missing).expect_err("a figure is missing");
    let zero = Measurements::from_json(zero).expect_err("zero throughput is rejected");
    let not_json = Measurements::from_json("{").expect_err("not JSON");

    assert!(missing.to_string().contains("lambda_init_ms"), "{missing}");
    assert!(
        zero.to_string().contains("server_req_per_s_per_vcpu"),
        "{zero}"
    );
    assert!(not_json.to_string().contains("not JSON"), "{not_json}");
}

#[test]
fn the_committed_sample_measurements_are_marked_as_a_sample() {
    let measurements = Measurements::from_json(SAMPLE).expect("the sample parses");

    assert!(measurements.sample);
    assert!(super::report::markdown(&sample_model()).contains("SAMPLE INPUT — NOT MEASURED"));
}

#[test]
fn every_assumption_is_described_with_its_doc_comment_and_value() {
    let described = Assumptions::default().describe();

    assert_eq!(described.len(), 17);
    let cold = described
        .iter()
        .find(|assumption| assumption.name == "lambda_cold_start_rate")
        .expect("the cold-start rate is described");
    assert_eq!(cold.value, "0.01");
    assert!(
        cold.description.contains("INIT duration"),
        "{}",
        cold.description
    );
    assert!(
        described
            .iter()
            .all(|assumption| !assumption.description.is_empty())
    );
}

#[test]
fn the_cost_table_has_a_row_per_option_and_a_column_per_volume() {
    let model = sample_model();

    let table = cost_table(&model);

    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2 + DeploymentOption::all().len());
    assert_eq!(lines[0], "| Option | 100k | 1M | 10M | 100M | 1B | Note |");
    assert!(table.contains("| Fargate x86_64 Spot, public IP |"));
    assert!(table.contains("Fargate floor"));
}

#[test]
fn money_is_rounded_to_cents_with_thousands_grouped() {
    assert_eq!(format_money(0.20333335), "$0.20");
    assert_eq!(format_money(93.8380325), "$93.84");
    assert_eq!(format_money(1_234_567.891), "$1,234,567.89");
    assert_eq!(format_money(999.999), "$1,000.00");
}

#[test]
fn volumes_are_named_with_three_significant_digits() {
    let names: Vec<String> = VOLUMES
        .iter()
        .map(|&volume| format_volume(volume))
        .collect();

    assert_eq!(names, ["100k", "1M", "10M", "100M", "1B"]);
    assert_eq!(format_volume(486_912_345.0), "487M");
    assert_eq!(format_volume(1.25e9), "1.25B");
}

#[test]
fn the_chart_has_one_line_per_option_and_a_marker_per_crossing() {
    let model = sample_model();
    let crossings = model
        .front_door_break_evens()
        .iter()
        .filter(|found| matches!(found.crossing, Crossing::At(_)))
        .count();

    let svg = chart::svg(&model);

    assert_eq!(
        svg.matches("<polyline class=\"option\"").count(),
        DeploymentOption::all().len()
    );
    assert_eq!(
        svg.matches("<circle class=\"break-even\"").count(),
        crossings
    );
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
}
