//! The error-rate chart: drawn by ECharts (through charming) once the page has hydrated; the
//! server renders the empty container, sized so the layout does not jump.

use leptos::prelude::*;
use signalbox::model::Stats;

/// One chart point: a time label, errors and the error rate (percent) of that minute.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub label: String,
    pub errors: i64,
    pub rate_percent: f64,
}

/// Per-minute points over the stats window, minutes without lines filled with zeros.
pub fn points(stats: &Stats) -> Vec<Point> {
    let start = stats.since.timestamp().div_euclid(60) * 60;
    let end = stats.generated_at.timestamp().div_euclid(60) * 60;
    let mut buckets = stats.per_minute.iter().peekable();
    let mut out = Vec::new();
    let mut minute = start;
    while minute <= end {
        let (errors, lines) = match buckets.peek() {
            Some(b) if b.minute.timestamp() == minute => {
                let b = buckets.next().map_or((0, 0), |b| (b.errors, b.lines));
                (b.0, b.1)
            }
            _ => (0, 0),
        };
        let label = chrono::DateTime::from_timestamp(minute, 0)
            .map(|t| t.format("%H:%M").to_string())
            .unwrap_or_default();
        let rate_percent = if lines > 0 {
            errors as f64 * 100.0 / lines as f64
        } else {
            0.0
        };
        out.push(Point {
            label,
            errors,
            rate_percent,
        });
        minute += 60;
    }
    out
}

/// The chart of errors per minute and error rate over the window of `stats`.
#[component]
pub fn ErrorRateChart(stats: Stats) -> impl IntoView {
    let id = "error-rate-chart";
    #[cfg(feature = "hydrate")]
    {
        let points = points(&stats);
        Effect::new(move |_| draw(id, &points));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = stats;
    view! { <div id=id class="chart" role="img" aria-label="Errors per minute and error rate over the last 24 hours"></div> }
}

#[cfg(feature = "hydrate")]
fn draw(id: &str, points: &[Point]) {
    use charming::component::{Axis, Grid, Legend};
    use charming::element::{AxisType, Tooltip, Trigger};
    use charming::series::{Bar, Line};
    use charming::{Chart, WasmRenderer};

    let width = web_sys_width(id).unwrap_or(900);
    let chart = Chart::new()
        .color(vec!["#c1121f", "#1d4ed8"])
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .legend(Legend::new().data(vec!["errors / min", "error rate %"]))
        .grid(Grid::new().left(48).right(48).top(36).bottom(28))
        .x_axis(
            Axis::new()
                .type_(AxisType::Category)
                .data(points.iter().map(|p| p.label.clone()).collect()),
        )
        .y_axis(Axis::new().type_(AxisType::Value).name("errors"))
        .y_axis(Axis::new().type_(AxisType::Value).name("%"))
        .series(
            Bar::new()
                .name("errors / min")
                .data(points.iter().map(|p| p.errors as f64).collect()),
        )
        .series(
            Line::new()
                .name("error rate %")
                .y_axis_index(1)
                .show_symbol(false)
                .data(
                    points
                        .iter()
                        .map(|p| (p.rate_percent * 100.0).round() / 100.0)
                        .collect(),
                ),
        );
    if let Err(e) = WasmRenderer::new(width, 260).render(id, &chart) {
        leptos::logging::warn!("error-rate chart not drawn: {e:?}");
    }
}

#[cfg(feature = "hydrate")]
fn web_sys_width(id: &str) -> Option<u32> {
    let element = document().get_element_by_id(id)?;
    Some(element.client_width().max(300) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use signalbox::model::MinuteBucket;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid")
            .with_timezone(&Utc)
    }

    #[test]
    fn missing_minutes_are_zero() {
        let stats = Stats {
            generated_at: at("2026-11-27T10:03:30Z"),
            since: at("2026-11-27T10:00:10Z"),
            errors: 3,
            lines: 14,
            error_rate: 3.0 / 14.0,
            groups: 1,
            new_today: 1,
            resolved: 0,
            per_minute: vec![
                MinuteBucket {
                    minute: at("2026-11-27T10:01:00Z"),
                    errors: 1,
                    lines: 4,
                },
                MinuteBucket {
                    minute: at("2026-11-27T10:03:00Z"),
                    errors: 2,
                    lines: 10,
                },
            ],
        };
        let got = points(&stats);
        let summary: Vec<(&str, i64, f64)> = got
            .iter()
            .map(|p| (p.label.as_str(), p.errors, p.rate_percent))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("10:00", 0, 0.0),
                ("10:01", 1, 25.0),
                ("10:02", 0, 0.0),
                ("10:03", 2, 20.0)
            ]
        );
    }
}
