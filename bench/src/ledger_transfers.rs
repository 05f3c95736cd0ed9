//! Ledger transfer throughput, against a baseline run in the same process on
//! the same database: the least SQL any double-entry transfer needs (one
//! transaction: debit UPDATE, credit UPDATE, one journal INSERT), without
//! idempotency, funds check, account validation or postings.
//!
//!   cargo run --release -p fintechapi-bench --bin ledger-transfers -- [TRANSFERS] [CONCURRENCY]
//!
//! Runs on SQLite (a temporary file) and, when reachable, on PostgreSQL at
//! TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres, in a
//! scratch database). Prints time per transfer and the ratio ours / baseline.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark that cannot set up should stop loudly

use std::sync::Arc;
use std::time::{Duration, Instant};

use fintechapi_domain::iban::Iban;
use fintechapi_domain::ids::{AccountId, PsuId};
use fintechapi_domain::ledger::{AccountKind, NewAccount};
use fintechapi_domain::password::PasswordHash;
use fintechapi_domain::psu::{NewPsu, PsuRepository};
use fintechapi_domain::{Clock, Currency, Money, SystemClock};
use fintechapi_ledger::{Ledger, TransferOrder};
use fintechapi_storage::{Store, StoreOptions};
use sqlx::{AssertSqlSafe, Connection};

struct Figures {
    ours: Duration,
    baseline: Duration,
}

async fn accounts(ledger: &Ledger<Store>, store: &Store, n: usize) -> Vec<(AccountId, Iban)> {
    let clock = SystemClock;
    let psu = PsuId::random();
    store
        .create_psu(NewPsu {
            id: psu,
            login: format!("bench-{psu}"),
            display_name: "Bench".into(),
            password: PasswordHash::from_phc("x".into()),
            created_at: clock.now(),
        })
        .await
        .unwrap();
    let mut out = Vec::new();
    for i in 0..n {
        let iban = Iban::from_bban("DE", &format!("76543210{:010}", 9_000_000 + i)).unwrap();
        let account = ledger
            .open_account(NewAccount {
                id: AccountId::random(),
                kind: AccountKind::Customer,
                psu_id: Some(psu),
                iban: Some(iban.clone()),
                bic: "FTAPDEB1XXX".into(),
                currency: Currency::EUR,
                name: format!("Bench {i}"),
                owner_name: "Bench".into(),
                product: "Bench".into(),
                cash_account_type: "CACC".into(),
                overdraft_limit: Some(1_000_000_000),
                created_at: clock.now(),
            })
            .await
            .unwrap();
        out.push((account.id, iban));
    }
    out
}

/// Runs `transfers` transfers from `concurrency` tasks through the ledger.
async fn ours(
    ledger: Arc<Ledger<Store>>,
    accounts: &[(AccountId, Iban)],
    transfers: usize,
    concurrency: usize,
    tag: &str,
) -> Duration {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let ledger = ledger.clone();
        let accounts = accounts.to_vec();
        let tag = tag.to_owned();
        tasks.push(tokio::spawn(async move {
            for i in (worker..transfers).step_by(concurrency) {
                let from = &accounts[i % accounts.len()];
                let to = &accounts[(i + 1) % accounts.len()];
                ledger
                    .transfer(TransferOrder {
                        idempotency_key: format!("{tag}-{i}"),
                        debtor_account: from.0,
                        creditor_iban: to.1.clone(),
                        creditor_name: None,
                        amount: Money::from_minor(1 + (i as i64 % 500), Currency::EUR),
                        remittance_information: None,
                        end_to_end_id: None,
                        bank_transaction_code: None,
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    started.elapsed()
}

macro_rules! baseline {
    ($pool:expr, $begin:expr, $transfers:expr, $concurrency:expr, $n:expr) => {{
        let pool = $pool;
        sqlx::query("CREATE TABLE bench_accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL)").execute(&pool).await.unwrap();
        sqlx::query("CREATE TABLE bench_journal (id TEXT PRIMARY KEY, debit BIGINT NOT NULL, credit BIGINT NOT NULL, amount BIGINT NOT NULL)").execute(&pool).await.unwrap();
        for i in 0..$n {
            sqlx::query("INSERT INTO bench_accounts (id, balance) VALUES ($1, 0)").bind(i as i64).execute(&pool).await.unwrap();
        }
        let started = Instant::now();
        let mut tasks = Vec::new();
        for worker in 0..$concurrency {
            let pool = pool.clone();
            tasks.push(tokio::spawn(async move {
                for i in (worker..$transfers).step_by($concurrency) {
                    let (from, to) = ((i % $n) as i64, ((i + 1) % $n) as i64);
                    let (first, second) = if from < to { (from, to) } else { (to, from) };
                    let amount = 1 + (i as i64 % 500);
                    let mut tx = pool.begin_with($begin).await.unwrap();
                    for id in [first, second] {
                        let delta = if id == from { -amount } else { amount };
                        sqlx::query("UPDATE bench_accounts SET balance = balance + $2 WHERE id = $1").bind(id).bind(delta).execute(&mut *tx).await.unwrap();
                    }
                    sqlx::query("INSERT INTO bench_journal (id, debit, credit, amount) VALUES ($1, $2, $3, $4)")
                        .bind(uuid::Uuid::new_v4().to_string()).bind(from).bind(to).bind(amount)
                        .execute(&mut *tx).await.unwrap();
                    tx.commit().await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        started.elapsed()
    }};
}

async fn run(
    store: Store,
    baseline_pool: BaselinePool,
    transfers: usize,
    concurrency: usize,
) -> Figures {
    store.migrate().await.unwrap();
    let ledger = Arc::new(Ledger::new(store.clone(), Arc::new(SystemClock)));
    let n = 16;
    let accts = accounts(&ledger, &store, n).await;
    // Fund them once from the clearing account so no transfer is refused.
    for (id, _) in &accts {
        ledger
            .deposit(
                *id,
                Money::from_minor(100_000_000, Currency::EUR),
                &format!("fund-{id}"),
                "bench",
            )
            .await
            .unwrap();
    }
    let ours = ours(
        ledger.clone(),
        &accts,
        transfers,
        concurrency,
        &format!("c{concurrency}"),
    )
    .await;
    let baseline = match baseline_pool {
        BaselinePool::Sqlite(pool) => baseline!(pool, "BEGIN IMMEDIATE", transfers, concurrency, n),
        BaselinePool::Postgres(pool) => baseline!(pool, "BEGIN", transfers, concurrency, n),
    };
    assert!(
        ledger.audit().await.unwrap().is_consistent(),
        "the ledger must stay consistent under load"
    );
    Figures { ours, baseline }
}

enum BaselinePool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

fn report(store: &str, transfers: usize, concurrency: usize, f: &Figures) {
    let per = |d: Duration| d.as_secs_f64() * 1e6 / transfers as f64;
    println!(
        "{store:<9} {concurrency:>3} tasks  ours {:>8.1} µs/transfer ({:>7.0}/s)   baseline {:>8.1} µs/transfer ({:>7.0}/s)   ratio ours/baseline {:.2}",
        per(f.ours),
        transfers as f64 / f.ours.as_secs_f64(),
        per(f.baseline),
        transfers as f64 / f.baseline.as_secs_f64(),
        f.ours.as_secs_f64() / f.baseline.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let transfers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let concurrency_levels: Vec<usize> = match args.next().and_then(|a| a.parse().ok()) {
        Some(c) => vec![c],
        None => vec![1, 8],
    };
    println!(
        "ledger transfers: {transfers} per run; baseline = bare debit/credit UPDATEs + journal INSERT in one transaction"
    );
    let options = StoreOptions {
        max_connections: 16,
        ..StoreOptions::default()
    };
    for &concurrency in &concurrency_levels {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("ours.db"), &options)
            .await
            .unwrap();
        let base_opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.path().join("baseline.db"))
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        let base = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(16)
            .connect_with(base_opts)
            .await
            .unwrap();
        let figures = run(store, BaselinePool::Sqlite(base), transfers, concurrency).await;
        report("sqlite", transfers, concurrency, &figures);

        let admin = std::env::var("TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await else {
            println!("postgres  skipped: {admin} is not reachable");
            continue;
        };
        let name = format!("fintechapi_bench_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
        let store = Store::connect(&url, &options).await.unwrap();
        let base = sqlx::postgres::PgPoolOptions::new()
            .max_connections(16)
            .connect(&url)
            .await
            .unwrap();
        let figures = run(
            store.clone(),
            BaselinePool::Postgres(base.clone()),
            transfers,
            concurrency,
        )
        .await;
        report("postgres", transfers, concurrency, &figures);
        store.close().await;
        base.close().await;
        sqlx::query(AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}
