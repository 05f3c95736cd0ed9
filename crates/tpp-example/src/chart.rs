//! The balance over time as an SVG line, worked back from today's booked
//! balance through the booked transactions.

use serde_json::Value;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 200.0;
const PAD: f64 = 24.0;

fn amount(value: &Value) -> Option<f64> {
    value["amount"].as_str()?.parse().ok()
}

/// Today's booked balance: `closingBooked`, else `interimBooked`, else the first.
fn booked_balance(balances: &[Value]) -> Option<f64> {
    ["closingBooked", "interimBooked"]
        .iter()
        .find_map(|kind| {
            balances
                .iter()
                .find(|b| b["balanceType"] == *kind)
                .and_then(|b| amount(&b["balanceAmount"]))
        })
        .or_else(|| balances.first().and_then(|b| amount(&b["balanceAmount"])))
}

/// `transactions` newest first, as the bank lists them.
pub fn balance_chart(balances: &[Value], transactions: &[Value]) -> String {
    let Some(mut balance) = booked_balance(balances) else {
        return String::new();
    };
    // The balance after each transaction, newest first, then oldest first.
    let mut points = vec![balance];
    for transaction in transactions {
        balance -= amount(&transaction["transactionAmount"]).unwrap_or(0.0);
        points.push(balance);
    }
    points.reverse();
    if points.len() < 2 {
        return String::new();
    }
    let (low, high) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(*p), hi.max(*p)));
    let span = (high - low).max(1.0);
    let step = (WIDTH - 2.0 * PAD) / (points.len() - 1) as f64;
    let line: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let x = PAD + step * i as f64;
            let y = HEIGHT - PAD - (p - low) / span * (HEIGHT - 2.0 * PAD);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    format!(
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="Balance from {first:.2} to {last:.2} EUR over the last {n} transactions">
<polyline fill="none" stroke="currentColor" stroke-width="2" points="{points}"/>
<text x="{PAD}" y="14" font-size="12">{high:.2}</text>
<text x="{PAD}" y="{bottom}" font-size="12">{low:.2}</text>
</svg>"#,
        first = points[0],
        last = points[points.len() - 1],
        n = points.len() - 1,
        points = line.join(" "),
        bottom = HEIGHT - 4.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_line_works_back_from_the_booked_balance() {
        let balances =
            [json!({"balanceType": "closingBooked", "balanceAmount": {"amount": "100.00"}})];
        let transactions = [
            json!({"transactionAmount": {"amount": "-20.00"}}),
            json!({"transactionAmount": {"amount": "50.00"}}),
        ];
        let svg = balance_chart(&balances, &transactions);
        // Oldest first: 70 (before both), 120 (after +50), 100 (after -20).
        assert!(
            svg.contains("Balance from 70.00 to 100.00 EUR over the last 2 transactions"),
            "{svg}"
        );
        assert!(svg.contains(">120.00<") && svg.contains(">70.00<"));
        assert_eq!(balance_chart(&[], &transactions), "");
    }
}
