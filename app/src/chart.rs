//! The error-rate chart: bars of errors per time bucket, stacked by level or service, and the
//! error rate as a line. Drawn by ECharts (through charming) once the page has hydrated; the
//! server renders the container, sized so the layout does not jump, and a text summary.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One stacked series: its name (a level or a service) and its errors per bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    pub errors: Vec<i64>,
}

/// Everything the chart draws.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChartData {
    /// One label per bucket (UTC `HH:MM`, or `MM-DD HH:MM` over several days).
    pub labels: Vec<String>,
    pub series: Vec<Series>,
    /// Errors / lines per bucket, in percent.
    pub rate_percent: Vec<f64>,
    /// Deploys: the label of the bucket each falls in, and what was deployed.
    pub markers: Vec<(String, String)>,
}

/// Deploy markers for `deploys` (`(time ms, name)`): each in the bucket of `starts` it falls
/// in, with that bucket's label; deploys outside the buckets are left out.
pub fn markers(
    deploys: &[(i64, String)],
    starts: &[i64],
    labels: &[String],
) -> Vec<(String, String)> {
    let width = match starts {
        [a, b, ..] => b - a,
        _ => i64::MAX,
    };
    deploys
        .iter()
        .filter_map(|(at, name)| {
            let i = starts.partition_point(|s| s <= at).checked_sub(1)?;
            let label = labels.get(i)?;
            (at - starts[i] < width).then(|| (label.clone(), name.clone()))
        })
        .collect()
}

impl ChartData {
    /// Errors over the whole chart.
    pub fn total_errors(&self) -> i64 {
        self.series.iter().flat_map(|s| s.errors.iter()).sum()
    }
}

/// Bucket starts from `start_ms` up to `end_ms`, `width_ms` apart (`start_ms` rounded down).
pub fn buckets(start_ms: i64, end_ms: i64, width_ms: i64) -> Vec<i64> {
    let width = width_ms.max(1);
    let first = start_ms.div_euclid(width) * width;
    (0..)
        .map(|i| first + i * width)
        .take_while(|b| *b <= end_ms)
        .collect()
}

/// Counts per bucket for `starts` from sparse `(bucket start, count)` pairs; missing ones 0.
pub fn fill(starts: &[i64], counts: &[(i64, i64)]) -> Vec<i64> {
    starts
        .iter()
        .map(|b| {
            counts
                .iter()
                .filter(|(at, _)| at == b)
                .map(|(_, n)| n)
                .sum()
        })
        .collect()
}

/// The chart from sparse rows `(bucket start ms, series key, errors, lines)` over `starts`.
/// Series without errors (info and warn levels) are left out; the busiest come first.
pub fn stack(rows: &[(i64, String, i64, i64)], starts: &[i64]) -> ChartData {
    let index = |at: i64| starts.binary_search(&at).ok();
    let mut names: Vec<String> = rows
        .iter()
        .filter(|r| r.2 > 0)
        .map(|r| r.1.clone())
        .collect();
    names.sort();
    names.dedup();
    let mut series: Vec<Series> = names
        .into_iter()
        .map(|name| Series {
            errors: vec![0; starts.len()],
            name,
        })
        .collect();
    let mut errors = vec![0i64; starts.len()];
    let mut lines = vec![0i64; starts.len()];
    for (at, key, e, l) in rows {
        let Some(i) = index(*at) else { continue };
        errors[i] += e;
        lines[i] += l;
        if let Some(s) = series.iter_mut().find(|s| &s.name == key) {
            s.errors[i] += e;
        }
    }
    series.sort_by_key(|s| std::cmp::Reverse(s.errors.iter().sum::<i64>()));
    let days = starts
        .first()
        .zip(starts.last())
        .is_some_and(|(a, b)| b - a > 86_400_000);
    let labels = starts
        .iter()
        .map(|ms| {
            chrono::DateTime::from_timestamp_millis(*ms)
                .map(|t| {
                    t.format(if days { "%m-%d %H:%M" } else { "%H:%M" })
                        .to_string()
                })
                .unwrap_or_default()
        })
        .collect();
    let rate_percent = errors
        .iter()
        .zip(&lines)
        .map(|(e, l)| {
            if *l > 0 {
                (*e as f64 * 10_000.0 / *l as f64).round() / 100.0
            } else {
                0.0
            }
        })
        .collect();
    ChartData {
        labels,
        series,
        rate_percent,
        markers: Vec::new(),
    }
}

/// The chart; `title` says what it shows (also to screen readers).
#[component]
pub fn ErrorRateChart(data: ChartData, title: String) -> impl IntoView {
    let id = "error-rate-chart";
    let summary = format!(
        "{} errors; {}",
        data.total_errors(),
        data.series
            .iter()
            .map(|s| format!("{}: {}", s.name, s.errors.iter().sum::<i64>()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    #[cfg(feature = "hydrate")]
    {
        let data = data.clone();
        Effect::new(move |_| draw(id, &data));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = &data;
    view! {
        <figure class="chart-figure">
            <div id=id class="chart" role="img" aria-label=title.clone()></div>
            <figcaption class="muted">{summary}</figcaption>
        </figure>
    }
    .into_any()
}

#[cfg(feature = "hydrate")]
mod echarts_dom {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        /// The chart already drawn in `element`, or `undefined`.
        #[wasm_bindgen(js_namespace = echarts, js_name = getInstanceByDom)]
        pub fn instance_of(element: &leptos::web_sys::Element) -> JsValue;
    }
}

#[cfg(feature = "hydrate")]
fn draw(id: &str, data: &ChartData) {
    use charming::component::{Axis, Grid, Legend};
    use charming::element::{
        AxisType, Label, MarkLine, MarkLineData, MarkLineVariant, Symbol, Tooltip, Trigger,
    };
    use charming::series::{Bar, Line};
    use charming::{Chart, WasmRenderer};
    use wasm_bindgen::JsCast;

    let Some(element) = document().get_element_by_id(id) else {
        return;
    };
    // A refresh redraws in place: the old chart goes first (it would keep stale series).
    let old = echarts_dom::instance_of(&element);
    if !old.is_undefined() && !old.is_null() {
        if let Ok(dispose) = js_sys::Reflect::get(&old, &"dispose".into()) {
            if let Some(f) = dispose.dyn_ref::<js_sys::Function>() {
                let _ = f.call0(&old);
            }
        }
    }
    let dark = prefers_dark();
    let text = if dark { "#d6d9de" } else { "#333333" };
    let width = element.client_width().max(300) as u32;
    let mut names: Vec<String> = data.series.iter().map(|s| s.name.clone()).collect();
    names.push("error rate %".into());
    let mut chart = Chart::new()
        .color(vec![
            "#c1121f", "#7b2cbf", "#e85d04", "#2a9d8f", "#3a86ff", "#8d99ae", "#ff006e", "#6a994e",
        ])
        .animation(false)
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .legend(
            Legend::new()
                .data(names)
                .text_style(charming::element::TextStyle::new().color(text)),
        )
        .grid(Grid::new().left(48).right(48).top(40).bottom(28))
        .x_axis(
            Axis::new()
                .type_(AxisType::Category)
                .data(data.labels.clone()),
        )
        .y_axis(Axis::new().type_(AxisType::Value).name("errors"))
        .y_axis(Axis::new().type_(AxisType::Value).name("%"));
    for s in &data.series {
        chart = chart.series(
            Bar::new()
                .name(s.name.clone())
                .stack("errors")
                .data(s.errors.iter().map(|&e| e as f64).collect()),
        );
    }
    let deploys = data
        .markers
        .iter()
        .map(|(label, name)| {
            MarkLineVariant::Simple(MarkLineData::new().x_axis(label.clone()).name(name.clone()))
        })
        .collect::<Vec<_>>();
    let mut rate = Line::new()
        .name("error rate %")
        .y_axis_index(1)
        .show_symbol(false)
        .data(data.rate_percent.clone());
    if !deploys.is_empty() {
        rate = rate.mark_line(
            MarkLine::new()
                .symbol(vec![Symbol::None])
                .silent(true)
                .label(Label::new().formatter("{b}").color(text))
                .data(deploys),
        );
    }
    chart = chart.series(rate);
    if let Err(e) = WasmRenderer::new(width, 280).render(id, &chart) {
        leptos::logging::warn!("error-rate chart not drawn: {e:?}");
    }
}

/// `matchMedia("(prefers-color-scheme: dark)").matches`, through `Reflect` (web-sys's
/// `MediaQueryList` is not compiled in).
#[cfg(feature = "hydrate")]
fn prefers_dark() -> bool {
    use wasm_bindgen::{JsCast, JsValue};
    let global = js_sys::global();
    let Ok(match_media) = js_sys::Reflect::get(&global, &"matchMedia".into()) else {
        return false;
    };
    let Some(match_media) = match_media.dyn_ref::<js_sys::Function>() else {
        return false;
    };
    match_media
        .call1(&global, &JsValue::from_str("(prefers-color-scheme: dark)"))
        .ok()
        .and_then(|list| js_sys::Reflect::get(&list, &"matches".into()).ok())
        .and_then(|m| m.as_bool())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_the_range() {
        assert_eq!(
            buckets(61_000, 240_000, 60_000),
            vec![60_000, 120_000, 180_000, 240_000]
        );
        assert_eq!(buckets(0, 0, 60_000), vec![0]);
        assert!(buckets(10, 5, 60_000).len() <= 1);
    }

    #[test]
    fn fill_puts_counts_in_their_buckets() {
        assert_eq!(fill(&[0, 10, 20], &[(10, 3), (30, 9)]), vec![0, 3, 0]);
    }

    #[test]
    fn series_stack_by_key_and_the_rate_covers_all_lines() {
        let starts = buckets(0, 120_000, 60_000);
        let rows = vec![
            (0, "error".to_string(), 2, 2),
            (0, "info".to_string(), 0, 8),
            (60_000, "critical".to_string(), 1, 1),
            (60_000, "error".to_string(), 3, 3),
            (60_000, "warn".to_string(), 0, 4),
            (999, "error".to_string(), 50, 50),
        ];
        let chart = stack(&rows, &starts);
        assert_eq!(chart.labels, vec!["00:00", "00:01", "00:02"]);
        assert_eq!(
            chart.series,
            vec![
                Series {
                    name: "error".into(),
                    errors: vec![2, 3, 0]
                },
                Series {
                    name: "critical".into(),
                    errors: vec![0, 1, 0]
                },
            ]
        );
        assert_eq!(chart.rate_percent, vec![20.0, 50.0, 0.0]);
        assert_eq!(chart.total_errors(), 6);
    }

    #[test]
    fn deploys_mark_the_bucket_they_fall_in() {
        let starts = buckets(0, 120_000, 60_000);
        let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let deploys = vec![
            (0, "api d1".to_string()),
            (90_000, "api d2".to_string()),
            (-5, "too early".to_string()),
            (200_000, "too late".to_string()),
        ];
        assert_eq!(
            markers(&deploys, &starts, &labels),
            vec![
                ("a".to_string(), "api d1".to_string()),
                ("b".to_string(), "api d2".to_string())
            ]
        );
        assert!(markers(&deploys, &[], &[]).is_empty());
    }
}
