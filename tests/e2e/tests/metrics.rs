//! The EMF metric lines (`docs/metrics.md`) of a real sync: box-sync's handler, run as its own
//! process (the `bench_box_sync` driver: the Lambda's config, clients and handler), against moto
//! and the sandbox. Its stdout is captured and every metric line is checked against the stored
//! task runs, license summaries and candidates.
use std::process::Command;

use seatkeeper::domain::Entitlement;
use seatkeeper::metrics::validate;
use seatkeeper::ports::{ProfileRepo, RunRepo, SeatRepo, StoreError};
use seatkeeper_e2e::TestEnv;
use serde_json::Value;

// multi-threaded: the sandbox keeps serving while this thread waits for the child process
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn box_sync_prints_valid_emf_lines_with_the_stored_figures() {
    let env = TestEnv::start(120, 11).await;
    let profile = env.add_box_profile().await;
    env.store
        .profiles
        .update(&profile.id, |p| -> Result<(), StoreError> {
            p.set_entitlement(Entitlement {
                license_type: "business_plus".into(),
                purchased: 130,
                unit_price_cents: Some(3300),
                currency: Some("USD".into()),
            });
            Ok(())
        })
        .await
        .unwrap()
        .unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_bench_box_sync"))
        .arg(&profile.id)
        .envs(env.env_vars())
        .output()
        .expect("run the box-sync driver");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // every line that starts as JSON is a whole EMF object on its own line
    let lines: Vec<Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    for l in &lines {
        validate(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert_eq!(l["level"], "INFO");
        assert_eq!(l["Provider"], "box");
        assert_eq!(l["Profile"], profile.id.as_str());
    }

    // one task line per recorded task run, with its counts
    let runs = env.store.runs.task_runs(&profile.id, 20).await.unwrap();
    let tasks: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "task").collect();
    assert_eq!(tasks.len(), runs.len(), "{runs:?}");
    for r in &runs {
        let task = serde_json::to_value(r.task).unwrap();
        let l = tasks
            .iter()
            .find(|l| l["Task"] == task)
            .unwrap_or_else(|| panic!("no line for {task}"));
        assert_eq!(l["ProviderCalls"], r.counts.api_calls);
        assert_eq!(l["Pages"], r.counts.pages);
        assert_eq!(l["Throttled"], r.counts.throttled);
        assert_eq!(l["Retries"], r.counts.retries);
        assert_eq!(l["DurationMs"], r.duration_ms.unwrap());
        assert_eq!(l["run_id"], r.run_id.as_str());
        assert_eq!(l["succeeded"], true);
    }

    // one sync line, equal to the stored summary and candidates
    let sync: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "sync").collect();
    assert_eq!(sync.len(), 1);
    let s = sync[0];
    let summaries = env
        .store
        .seats
        .license_summaries(&profile.id)
        .await
        .unwrap();
    let bp = summaries
        .iter()
        .find(|s| s.license_type == "business_plus")
        .unwrap();
    let candidates = env.store.seats.list_candidates(&profile.id).await.unwrap();
    assert!(bp.assigned > 0 && bp.inactive > 0);
    assert_eq!(s["SeatsAssigned"], bp.assigned);
    assert_eq!(s["SeatsActive"], bp.active);
    assert_eq!(s["SeatsInactive"], bp.inactive);
    assert_eq!(s["SeatsNeverActive"], bp.never_logged_in);
    assert_eq!(s["Candidates"], candidates.len());
    assert_eq!(s["MonthlyCostCents"], 130 * 3300);
    assert_eq!(s["MonthlyWasteCents"], bp.monthly_waste_cents.unwrap());
    assert_eq!(s["currency"], "USD");
}
