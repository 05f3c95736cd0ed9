//! The ledger against a plain in-memory model, on generated scenarios.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use fintechapi_domain::ledger::LedgerError;
use fintechapi_testkit::{Backend, TestDb};

use crate::bank::{Bank, external_iban};

/// One payment in a generated scenario: account indexes (3 means another bank),
/// an amount, and optionally the idempotency key of an earlier step.
#[derive(Debug, Clone)]
struct Step {
    from: usize,
    to: usize,
    amount: i64,
    reuse_key_of: Option<usize>,
}

fn steps() -> impl proptest::strategy::Strategy<Value = Vec<Step>> {
    use proptest::prelude::*;
    prop::collection::vec(
        (
            0..3_usize,
            0..4_usize,
            1..40_000_i64,
            prop::option::weighted(0.2, 0..40_usize),
        )
            .prop_map(|(from, to, amount, reuse_key_of)| Step {
                from,
                to,
                amount,
                reuse_key_of,
            }),
        1..40,
    )
}

/// The ledger agrees with a plain in-memory model on every outcome and every
/// final balance, and its invariants hold after every scenario.
fn ledger_matches_the_model(backend: Backend) {
    use proptest::test_runner::{Config, TestRunner};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::create(backend));
    let bank = rt.block_on(Bank::new(&db));
    let scenario = AtomicU64::new(0);
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&steps(), |steps| {
            rt.block_on(async {
                let run = scenario.fetch_add(1, Ordering::Relaxed);
                let limits = [0_i64, 50_00, 250_00];
                let mut accounts = Vec::new();
                for (i, limit) in limits.iter().enumerate() {
                    accounts.push(bank.account("EUR", *limit, 100_00 * i as i64).await);
                }
                let mut model: Vec<i64> = accounts.iter().map(|a| a.balances.booked).collect();
                let mut committed: HashMap<String, (usize, usize, i64)> = HashMap::new();
                let keys: Vec<String> = (0..steps.len()).map(|i| format!("s{run}-{i}")).collect();
                for (i, step) in steps.iter().enumerate() {
                    let key = step
                        .reuse_key_of
                        .filter(|j| *j < i)
                        .map_or(&keys[i], |j| &keys[j])
                        .clone();
                    let to = if step.to == 3 {
                        external_iban()
                    } else {
                        accounts[step.to].iban.clone().unwrap()
                    };
                    let got = bank.pay(&key, &accounts[step.from], &to, step.amount).await;
                    let params = (step.from, step.to, step.amount);
                    match committed.get(&key) {
                        Some(first) if *first == params => assert!(got.unwrap().replayed),
                        Some(_) => assert!(
                            matches!(got, Err(LedgerError::IdempotencyConflict(_))),
                            "{got:?}"
                        ),
                        None if step.from == step.to => {
                            assert!(matches!(got, Err(LedgerError::SameAccount)), "{got:?}")
                        }
                        None if model[step.from] - step.amount < -limits[step.from] => {
                            assert!(
                                matches!(got, Err(LedgerError::InsufficientFunds(_))),
                                "{got:?}"
                            )
                        }
                        None => {
                            assert!(!got.unwrap().replayed);
                            model[step.from] -= step.amount;
                            if step.to < 3 {
                                model[step.to] += step.amount;
                            }
                            committed.insert(key, params);
                        }
                    }
                }
                for (i, account) in accounts.iter().enumerate() {
                    let booked = bank.booked(account.id).await;
                    assert_eq!(booked, model[i], "account {i}");
                    assert!(booked >= -limits[i]);
                }
                bank.assert_consistent().await;
            });
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_ledger_matches_a_simple_model_on_sqlite() {
    ledger_matches_the_model(Backend::Sqlite);
}

#[test]
fn the_ledger_matches_a_simple_model_on_postgres() {
    ledger_matches_the_model(Backend::Postgres);
}
