//! Small charts drawn as inline SVG on the server: a group's sparkline in the top-errors table
//! and the per-hour bars on its page. Readable without JavaScript, nothing to load.

use leptos::prelude::*;

/// Polyline points (`x,y x,y …`) for `counts` in a `width` × `height` box, highest count at
/// the top, zero at the bottom; an empty list gives no points.
pub fn polyline(counts: &[i64], width: f64, height: f64) -> String {
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = if counts.len() > 1 {
        width / (counts.len() - 1) as f64
    } else {
        0.0
    };
    counts
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let x = i as f64 * step;
            let y = height - (c.max(0) as f64 / max) * (height - 1.0);
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Bars for `counts` in a `width` × `height` box: (x, y, bar width, bar height) each.
pub fn bars(counts: &[i64], width: f64, height: f64) -> Vec<(f64, f64, f64, f64)> {
    if counts.is_empty() {
        return Vec::new();
    }
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let slot = width / counts.len() as f64;
    counts
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let h = (c.max(0) as f64 / max) * height;
            (i as f64 * slot, height - h, (slot - 1.0).max(1.0), h)
        })
        .collect()
}

/// A group's occurrences over the page's range, as a line.
#[component]
pub fn Sparkline(counts: Vec<i64>, label: String) -> impl IntoView {
    let total: i64 = counts.iter().sum();
    let points = polyline(&counts, 100.0, 20.0);
    view! {
        <svg class="spark" viewBox="0 0 100 20" width="100" height="20" role="img" preserveAspectRatio="none">
            <title>{format!("{label}: {total} in the range")}</title>
            <polyline points=points fill="none" stroke="currentColor" stroke-width="1.5" vector-effect="non-scaling-stroke" />
        </svg>
    }
    .into_any()
}

/// Bars with a label per bar (its hour), for the group page.
#[component]
pub fn BarChart(counts: Vec<i64>, labels: Vec<String>, title: String) -> impl IntoView {
    let (w, h) = (720.0, 120.0);
    let rects = bars(&counts, w, h)
        .into_iter()
        .zip(counts.iter().zip(labels))
        .map(|((x, y, bw, bh), (count, label))| {
            view! {
                <rect x=format!("{x:.1}") y=format!("{y:.1}") width=format!("{bw:.1}") height=format!("{bh:.1}")>
                    <title>{format!("{label}: {count}")}</title>
                </rect>
            }
        })
        .collect_view();
    view! {
        <svg class="bars" viewBox=format!("0 0 {w} {h}") preserveAspectRatio="none" role="img" aria-label=title>
            {rects}
        </svg>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_spans_the_box_with_the_peak_on_top() {
        assert_eq!(polyline(&[], 100.0, 20.0), "");
        assert_eq!(
            polyline(&[0, 5, 10], 100.0, 21.0),
            "0.0,21.0 50.0,11.0 100.0,1.0"
        );
        assert_eq!(polyline(&[0, 0], 10.0, 20.0), "0.0,20.0 10.0,20.0");
        assert_eq!(polyline(&[3], 10.0, 20.0), "0.0,1.0");
    }

    #[test]
    fn bars_share_the_width_and_scale_to_the_highest() {
        assert!(bars(&[], 10.0, 10.0).is_empty());
        assert_eq!(
            bars(&[0, 2, 4, 0], 40.0, 10.0),
            vec![
                (0.0, 10.0, 9.0, 0.0),
                (10.0, 5.0, 9.0, 5.0),
                (20.0, 0.0, 9.0, 10.0),
                (30.0, 10.0, 9.0, 0.0)
            ]
        );
    }
}
