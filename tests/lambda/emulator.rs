//! `apuntador-lambda` under the in-repo Runtime API emulator: every fixture through one process, the
//! runtime's trace id, events no front door sends, configuration errors, and the emulator itself.

use std::time::Duration;

use serde_json::json;

use crate::fixtures::{self, Answer, FIXTURE_TRACE_ID};
use crate::runtime_api::{InvokeError, LambdaProcess, RuntimeApi, xray_trace_id};

/// Generous bound for one invocation of a debug build on a busy 2-core machine.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(20);

/// Starts the emulator and the binary, and waits for the binary's init phase to end.
async fn running_lambda(extra_env: &[(&str, &str)]) -> (RuntimeApi, LambdaProcess) {
    let api = RuntimeApi::start().await;
    let mut process = LambdaProcess::spawn(&api, extra_env);
    if !api.wait_for_poll(Duration::from_secs(30)).await {
        panic!(
            "apuntador-lambda never polled the Runtime API (exit {:?})\nstderr:\n{}\nstdout:\n{}",
            process.try_exit(),
            process.stderr(),
            process.stdout()
        );
    }
    (api, process)
}

async fn invoke(api: &RuntimeApi, process: &mut LambdaProcess, event: serde_json::Value) -> Answer {
    match api.invoke(event, INVOKE_TIMEOUT).await {
        Ok(response) => Answer::from_json(&response),
        Err(e) => panic!(
            "invocation failed: {e} (exit {:?})\nstderr:\n{}",
            process.try_exit(),
            process.stderr()
        ),
    }
}

#[tokio::test]
async fn every_fixture_is_answered_in_a_row_by_one_process_initialised_once() {
    let (api, mut process) = running_lambda(&[]).await;
    let pid = process.id();
    let mut failures = Vec::new();
    let rounds = 2;
    for _ in 0..rounds {
        for fixture in &fixtures::ALL {
            let answer = invoke(&api, &mut process, fixture.event()).await;
            failures.extend(fixture.check(&answer));
            failures.extend(fixtures::check_trace(fixture, &answer, FIXTURE_TRACE_ID));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let invocations = rounds * fixtures::ALL.len();
    assert!(
        process.is_running(),
        "the process must keep running between invocations"
    );
    assert_eq!(process.id(), pid);
    assert_eq!(api.delivered(), invocations);
    assert_eq!(api.responses(), invocations);
    assert_eq!(api.function_errors(), 0);
    assert!(api.init_errors().is_empty(), "{:?}", api.init_errors());
    // One sequential runtime loop: one poll per invocation plus the one now waiting.
    let give_up = tokio::time::Instant::now() + Duration::from_secs(5);
    while api.next_polls() <= invocations && tokio::time::Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(api.next_polls(), invocations + 1);
    assert!(
        !process.stderr().contains("panicked"),
        "{}",
        process.stderr()
    );
}

#[tokio::test]
async fn the_runtime_trace_id_replaces_the_event_trace_header() {
    let (api, mut process) = running_lambda(&[]).await;
    let fixture = &fixtures::ALL[1];
    assert_eq!(fixture.file, "apigw-v2-health.json");
    let runtime_trace =
        "Root=1-6b0a9438-24d925fb263f8d71b3c59162;Parent=b4d629b2f5e85d6c;Sampled=1";

    let with_runtime_trace = api
        .invoke_traced(fixture.event(), Some(runtime_trace.into()), INVOKE_TIMEOUT)
        .await
        .expect("invocation with a runtime trace id");
    let without_runtime_trace = api
        .invoke_traced(fixture.event(), None, INVOKE_TIMEOUT)
        .await
        .expect("invocation without a runtime trace id");

    let answer = Answer::from_json(&with_runtime_trace);
    assert_eq!(
        answer.header("x-trace-id"),
        xray_trace_id(runtime_trace).as_deref(),
        "on Lambda X-Trace-ID equals the invocation's X-Ray trace id"
    );
    let answer = Answer::from_json(&without_runtime_trace);
    assert_eq!(answer.header("x-trace-id"), Some(FIXTURE_TRACE_ID));
    assert!(process.is_running());
}

#[tokio::test]
async fn an_event_no_front_door_sends_is_a_function_error_and_the_process_keeps_serving() {
    let (api, mut process) = running_lambda(&[]).await;

    let outcome = api
        .invoke(json!({"detail-type": "Scheduled Event"}), INVOKE_TIMEOUT)
        .await;

    match outcome {
        Err(InvokeError::Function(error)) => {
            assert!(error.body.get("errorType").is_some(), "{error}");
        }
        other => panic!("expected a function error, got {other:?}"),
    }
    let fixture = &fixtures::ALL[0];
    let answer = invoke(&api, &mut process, fixture.event()).await;
    assert!(
        fixture.check(&answer).is_empty(),
        "{:?}",
        fixture.check(&answer)
    );
    assert!(process.is_running());
    assert_eq!(api.function_errors(), 1);
}

#[tokio::test]
async fn a_bad_configuration_exits_with_code_2_before_polling_the_runtime() {
    let api = RuntimeApi::start().await;
    let mut process = LambdaProcess::spawn(&api, &[("BODY_LIMIT_BYTES", "abc")]);

    let status = process
        .wait_for_exit(Duration::from_secs(30))
        .await
        .expect("apuntador-lambda must exit on a configuration error");

    let stderr = process.stderr();
    assert_eq!(status.code(), Some(2), "stderr:\n{stderr}");
    assert!(stderr.contains("configuration error:"), "stderr:\n{stderr}");
    assert!(stderr.contains("BODY_LIMIT_BYTES"), "stderr:\n{stderr}");
    assert_eq!(
        api.next_polls(),
        0,
        "configuration is checked before the runtime loop"
    );
}

#[tokio::test]
async fn server_only_variables_are_ignored_so_they_cannot_stop_the_function() {
    let junk = [
        ("HOST", "not a host"),
        ("PORT", "abc"),
        ("MAX_CONCURRENT_REQUESTS", "-1"),
        ("SHUTDOWN_GRACE_SECONDS", "x"),
    ];
    let (api, mut process) = running_lambda(&junk).await;
    let answer = invoke(&api, &mut process, fixtures::ALL[0].event()).await;
    assert!(fixtures::ALL[0].check(&answer).is_empty());
}

#[tokio::test]
async fn a_replacement_process_receives_the_events_after_the_first_is_killed() {
    let api = RuntimeApi::start().await;
    let fixture = &fixtures::ALL[0];
    for round in 1..=2 {
        let mut process = LambdaProcess::spawn(&api, &[]);
        let answer = invoke(&api, &mut process, fixture.event()).await;
        assert!(
            fixture.check(&answer).is_empty(),
            "round {round}: {:?}",
            fixture.check(&answer)
        );
        drop(process);
    }
    assert_eq!(api.responses(), 2);
}

#[tokio::test]
async fn the_emulator_serves_the_runtime_routes_and_records_init_errors() {
    let api = RuntimeApi::start().await;
    let base = format!("http://{}/2018-06-01/runtime", api.addr());
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");

    // A fake runtime answers one invocation.
    let runtime = {
        let (client, base) = (client.clone(), base.clone());
        tokio::spawn(async move {
            let next = client.get(format!("{base}/invocation/next")).send().await?;
            let header = |name: &str| {
                next.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let id = header("lambda-runtime-aws-request-id").expect("request id");
            let deadline: u128 = header("lambda-runtime-deadline-ms")
                .expect("deadline")
                .parse()
                .expect("ms");
            let arn = header("lambda-runtime-invoked-function-arn").expect("arn");
            let trace = header("lambda-runtime-trace-id").expect("trace id");
            let event: serde_json::Value = next.json().await?;
            let posted = client
                .post(format!("{base}/invocation/{id}/response"))
                .json(&json!({"echo": event, "arn": arn, "trace": trace, "deadline": deadline.to_string()}))
                .send()
                .await?;
            assert_eq!(posted.status(), 202);
            let stale = client
                .post(format!("{base}/invocation/{id}/response"))
                .body("{}")
                .send()
                .await?;
            assert_eq!(stale.status(), 400, "an id is completed once");
            Ok::<_, reqwest::Error>(())
        })
    };
    let response = api
        .invoke(
            json!({"headers": {"X-Amzn-Trace-Id": fixtures::FIXTURE_TRACE_HEADER}}),
            Duration::from_secs(10),
        )
        .await
        .expect("the fake runtime answers");
    runtime
        .await
        .expect("fake runtime task")
        .expect("fake runtime HTTP");
    assert_eq!(
        response["echo"]["headers"]["X-Amzn-Trace-Id"],
        fixtures::FIXTURE_TRACE_HEADER
    );
    assert_eq!(response["trace"], fixtures::FIXTURE_TRACE_HEADER);
    assert_eq!(response["arn"], crate::runtime_api::FUNCTION_ARN);
    assert!(response["deadline"].as_str().is_some_and(|d| d.len() >= 13));

    // Nobody polls: the invocation times out.
    let timed_out = api.invoke(json!({}), Duration::from_millis(100)).await;
    assert_eq!(
        timed_out,
        Err(InvokeError::Timeout(Duration::from_millis(100)))
    );

    // An init error is recorded and fails a pending invocation.
    let pending = api.invoke(json!({}), Duration::from_secs(10));
    let report = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        client
            .post(format!("{base}/init/error"))
            .header("Lambda-Runtime-Function-Error-Type", "Runtime.ConfigError")
            .json(&json!({"errorType": "ConfigError", "errorMessage": "bad"}))
            .send()
            .await
            .expect("post init error")
            .status()
    };
    let (pending, status) = tokio::join!(pending, report);
    assert_eq!(status, 202);
    let recorded = api
        .wait_for_init_error(Duration::from_secs(1))
        .await
        .expect("init error recorded");
    assert_eq!(recorded.error_type.as_deref(), Some("Runtime.ConfigError"));
    assert_eq!(recorded.body["errorMessage"], "bad");
    assert_eq!(pending, Err(InvokeError::Init(recorded)));
    assert_eq!(api.init_errors().len(), 1);
}
