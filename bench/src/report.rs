//! Results: medians per program and scenario, ratios against peers, bars met or not; printed as a
//! table and written as JSON.

use serde::Serialize;

/// One program's measurements in one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub scenario: String,
    pub program: String,
    pub unit: String,
    /// One value per round.
    pub values: Vec<f64>,
    pub median: f64,
    pub failures: u64,
    /// Extra figures (p99 latency and such), medians over rounds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<(String, f64)>,
}

/// A bar from the benchmark issue and whether this run meets it.
#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    pub scenario: String,
    pub bar: String,
    pub value: f64,
    pub met: bool,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub mode: String,
    pub date: String,
    pub machine: String,
    pub measurements: Vec<Measurement>,
    pub bars: Vec<Bar>,
}

pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

impl Report {
    pub fn add(
        &mut self,
        scenario: &str,
        program: &str,
        unit: &str,
        values: Vec<f64>,
        failures: u64,
        extra: Vec<(String, Vec<f64>)>,
    ) -> f64 {
        let m = median(&values);
        self.measurements.push(Measurement {
            scenario: scenario.into(),
            program: program.into(),
            unit: unit.into(),
            median: m,
            values,
            failures,
            extra: extra.into_iter().map(|(k, v)| (k, median(&v))).collect(),
        });
        m
    }

    pub fn bar(&mut self, scenario: &str, bar: &str, value: f64, met: bool) {
        self.bars.push(Bar {
            scenario: scenario.into(),
            bar: bar.into(),
            value,
            met,
        });
    }

    pub fn failures(&self) -> u64 {
        self.measurements.iter().map(|m| m.failures).sum()
    }

    /// A Markdown table, as pasted into docs/benchmarks.md.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| scenario | program | median | unit | rounds | failures | extra |\n|---|---|---|---|---|---|---|\n",
        );
        for m in &self.measurements {
            let extra: Vec<String> = m.extra.iter().map(|(k, v)| format!("{k} {v:.2}")).collect();
            out.push_str(&format!(
                "| {} | {} | {:.1} | {} | {} | {} | {} |\n",
                m.scenario,
                m.program,
                m.median,
                m.unit,
                m.values
                    .iter()
                    .map(|v| format!("{v:.1}"))
                    .collect::<Vec<_>>()
                    .join(" / "),
                m.failures,
                extra.join(", ")
            ));
        }
        out.push_str("\n| scenario | bar | value | met |\n|---|---|---|---|\n");
        for b in &self.bars {
            out.push_str(&format!(
                "| {} | {} | {:.2} | {} |\n",
                b.scenario,
                b.bar,
                b.value,
                if b.met { "yes" } else { "**no**" }
            ));
        }
        out
    }
}
