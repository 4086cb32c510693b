//! Metric families as typed values, and their rendering in the Prometheus text exposition
//! format 0.0.4 (`# HELP`, `# TYPE`, one line per sample; help text and label values escaped;
//! families by name, samples by labels, so the same facts always give the same bytes).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The content type of the text exposition format, as Prometheus expects it on `/metrics`.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What a family is, in the exposition format's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetricType {
    /// Only goes up (restarts aside); the name ends in `_total`.
    Counter,
    /// A value that goes up and down. `_info` families (a constant 1 whose labels carry the
    /// facts) are gauges too, as Prometheus's own `*_build_info` are.
    Gauge,
}

impl MetricType {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
        }
    }
}

/// One sample: its labels (besides the name) and its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// One metric family: a name, what it means, its type and its samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MetricFamily {
    pub name: String,
    pub help: String,
    #[serde(rename = "type")]
    pub metric_type: MetricType,
    /// Sorted by their labels.
    pub samples: Vec<Sample>,
}

impl MetricFamily {
    /// Add a sample. `labels` are (name, value) pairs.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.samples.push(Sample {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
        });
        self
    }
}

/// Families being gathered, by name: a family is declared once (its help and type) and filled
/// from wherever its samples come from.
#[derive(Debug, Default)]
pub struct Families(BTreeMap<&'static str, MetricFamily>);

impl Families {
    fn family(&mut self, name: &'static str, help: &str, t: MetricType) -> &mut MetricFamily {
        self.0.entry(name).or_insert_with(|| MetricFamily {
            name: name.to_string(),
            help: help.to_string(),
            metric_type: t,
            samples: Vec::new(),
        })
    }

    pub fn gauge(&mut self, name: &'static str, help: &str) -> &mut MetricFamily {
        self.family(name, help, MetricType::Gauge)
    }

    /// `name` ends in `_total`.
    pub fn counter(&mut self, name: &'static str, help: &str) -> &mut MetricFamily {
        debug_assert!(name.ends_with("_total"), "a counter's name ends in _total");
        self.family(name, help, MetricType::Counter)
    }

    /// The families with at least one sample, by name, each one's samples sorted by labels.
    pub fn finish(self) -> Vec<MetricFamily> {
        self.0
            .into_values()
            .filter(|f| !f.samples.is_empty())
            .map(|mut f| {
                f.samples.sort_by(|a, b| a.labels.cmp(&b.labels));
                f
            })
            .collect()
    }
}

/// Help text: backslash and line feed escaped.
fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A label value: backslash, double quote and line feed escaped.
fn escape_label_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A value as the format writes it: whole numbers without a fraction, `NaN`, `+Inf`, `-Inf`.
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// `families` in the text exposition format 0.0.4, in the order given.
pub fn render(families: &[MetricFamily]) -> String {
    let mut out = String::new();
    for f in families {
        out.push_str(&format!("# HELP {} {}\n", f.name, escape_help(&f.help)));
        out.push_str(&format!("# TYPE {} {}\n", f.name, f.metric_type.as_str()));
        for s in &f.samples {
            out.push_str(&f.name);
            if !s.labels.is_empty() {
                let labels: Vec<String> = s
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape_label_value(v)))
                    .collect();
                out.push('{');
                out.push_str(&labels.join(","));
                out.push('}');
            }
            out.push(' ');
            out.push_str(&format_value(s.value));
            out.push('\n');
        }
    }
    out
}

/// A metric name as the format allows it: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
#[cfg(test)]
pub fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A label name as the format allows it (`[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`).
#[cfg(test)]
pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    !name.starts_with("__")
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_escapes_and_orders() {
        let mut f = Families::default();
        f.gauge("b_bytes", "size\\in \"bytes\"\nsecond line")
            .sample(&[("store", "z")], 2.0)
            .sample(&[("store", "a\"b\\c\nd")], 1.5);
        f.counter("a_total", "runs").sample(&[], 3.0);
        f.gauge("empty_family", "no samples: left out");
        let text = render(&f.finish());
        assert_eq!(
            text,
            "# HELP a_total runs\n\
             # TYPE a_total counter\n\
             a_total 3\n\
             # HELP b_bytes size\\\\in \"bytes\"\\nsecond line\n\
             # TYPE b_bytes gauge\n\
             b_bytes{store=\"a\\\"b\\\\c\\nd\"} 1.5\n\
             b_bytes{store=\"z\"} 2\n"
        );
    }

    #[test]
    fn values_and_names() {
        assert_eq!(format_value(1764924805.0), "1764924805");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(-3.0), "-3");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(1e20), "100000000000000000000");
        assert!(valid_metric_name("mahavishnu_dr_up"));
        assert!(!valid_metric_name("9lives"));
        assert!(!valid_metric_name("a-b"));
        assert!(valid_label_name("backup_type"));
        assert!(!valid_label_name("__name__"));
        assert!(!valid_label_name("a:b"));
    }
}
