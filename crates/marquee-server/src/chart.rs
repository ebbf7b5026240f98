//! Charts people can read (#24): server-rendered SVG with a time axis in
//! dates, a value axis with round ticks and grid lines, every point labelled
//! in a tooltip, an optional baseline and highlighted span, and the same
//! figures as a table (with the drill-down links) for screen readers and
//! for anyone who would rather read than see.
//!
//! Pure layout: the pages hand in times and values, the template
//! `partials/line_chart.html` draws what this returns. Why SVG on the
//! server and not a charting library in the browser: the pages are
//! server-rendered htmx, the live dashboards swap whole fragments, and a
//! chart drawn here needs no script, works at 360 px through its viewBox, is
//! snapshot-tested like the rest of the HTML and costs no download (the
//! smallest well-kept library, uPlot, is 50 KB and needs its own table
//! fallback and time-axis locale anyway).

use marquee_domain::Millis;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// The drawing's size in SVG units (it scales with its box).
pub const WIDTH: f64 = 600.0;
/// Height in SVG units.
pub const HEIGHT: f64 = 220.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 30.0;

/// How values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count: `12`.
    Count,
    /// Minutes: `4.2 min`.
    Minutes,
    /// A share in 0..=1, shown as a percentage: `62%`.
    Share,
    /// A score such as a CSAT mean: `4.25`.
    Score,
}

impl Unit {
    /// `v` as people read it in this unit.
    pub fn format(self, v: f64) -> String {
        match self {
            Unit::Count => {
                if v.fract().abs() < 1e-9 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.1}")
                }
            }
            Unit::Minutes => {
                if v >= 120.0 {
                    format!("{:.1} h", v / 60.0)
                } else if v >= 10.0 {
                    format!("{v:.0} min")
                } else {
                    format!("{v:.1} min")
                }
            }
            Unit::Share => format!("{:.0}%", v * 100.0),
            Unit::Score => format!("{v:.2}"),
        }
    }
}

/// One series going in: a value (or a gap) per time of the chart.
#[derive(Debug, Clone)]
pub struct SeriesIn {
    /// Its name in the legend and the table.
    pub label: String,
    /// CSS class of its line (`s1`, `s2`, …).
    pub class: &'static str,
    /// One per time; `None` is a gap in the line and a dash in the table.
    pub values: Vec<Option<f64>>,
}

/// What the page asks for.
#[derive(Debug, Clone)]
pub struct ChartIn {
    /// Heading (and the table's caption).
    pub title: String,
    /// How values read.
    pub unit: Unit,
    /// The times of the points (bucket starts), ascending.
    pub times: Vec<Millis>,
    /// Length of one bucket: where the axis ends and how times are named.
    pub bucket_ms: i64,
    /// The series.
    pub series: Vec<SeriesIn>,
    /// A horizontal reference line: its name and value ("usually", 0.18).
    pub baseline: Option<(String, f64)>,
    /// A span to shade (start, end), e.g. an alert's window.
    pub highlight: Option<(Millis, Millis)>,
    /// A drill-down link per time (the table's first column links there).
    pub links: Vec<Option<String>>,
    /// The value axis' top at least this (e.g. 1.0 for shares).
    pub min_top: f64,
}

/// A tick on an axis: where and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// Position in SVG units along the axis.
    pub at: f64,
    /// Label.
    pub label: String,
}

/// A drawn point with its tooltip.
#[derive(Debug, Clone)]
pub struct Point {
    /// x.
    pub x: f64,
    /// y.
    pub y: f64,
    /// "3 Dec: 4.2 min".
    pub tip: String,
}

/// A drawn series.
#[derive(Debug, Clone)]
pub struct SeriesOut {
    /// Name.
    pub label: String,
    /// CSS class.
    pub class: &'static str,
    /// SVG path data (`M … L …`, broken at gaps).
    pub d: String,
    /// Points.
    pub points: Vec<Point>,
}

/// A row of the table behind the chart.
#[derive(Debug, Clone)]
pub struct Row {
    /// The time, as people read it.
    pub when: String,
    /// Its drill-down link.
    pub href: Option<String>,
    /// One cell per series.
    pub cells: Vec<String>,
}

/// The chart ready to draw.
#[derive(Debug, Clone)]
pub struct LineChart {
    /// Heading.
    pub title: String,
    /// One sentence for screen readers (the svg's label).
    pub summary: String,
    /// Time axis ticks.
    pub x_ticks: Vec<Tick>,
    /// Value axis ticks (with grid lines).
    pub y_ticks: Vec<Tick>,
    /// Series.
    pub series: Vec<SeriesOut>,
    /// The reference line: y and its label.
    pub baseline: Option<(f64, String)>,
    /// The shaded span: x and width.
    pub highlight: Option<(f64, f64)>,
    /// Column headings of the table, after "When".
    pub columns: Vec<String>,
    /// The table.
    pub rows: Vec<Row>,
    /// Whether any value was drawn.
    pub has_data: bool,
}

impl LineChart {
    /// The plot area's left edge.
    pub fn left(&self) -> f64 {
        LEFT
    }
    /// The plot area's right edge.
    pub fn right(&self) -> f64 {
        WIDTH - RIGHT
    }
    /// The plot area's top.
    pub fn top(&self) -> f64 {
        TOP
    }
    /// The plot area's bottom (the time axis).
    pub fn bottom(&self) -> f64 {
        HEIGHT - BOTTOM
    }
    /// The drawing's viewBox.
    pub fn view_box(&self) -> String {
        format!("0 0 {WIDTH} {HEIGHT}")
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn parts(ms: Millis) -> (i64, u32, u32, i64, i64) {
    let day = ms.div_euclid(DAY);
    let (y, m, d) = marquee_domain::perks::civil_from_days(day);
    let in_day = ms.rem_euclid(DAY);
    (y, m, d, in_day / HOUR, (in_day % HOUR) / MINUTE)
}

/// `3 Dec`.
pub fn day_label(ms: Millis) -> String {
    let (_, m, d, _, _) = parts(ms);
    format!("{d} {}", MONTHS[(m.clamp(1, 12) - 1) as usize])
}

/// A bucket's time as the table and tooltips name it: `3 Dec` for days,
/// `3 Dec 14:00` for shorter buckets.
pub fn when_label(ms: Millis, bucket_ms: i64) -> String {
    if bucket_ms >= DAY {
        day_label(ms)
    } else {
        let (_, _, _, h, mi) = parts(ms);
        format!("{} {h:02}:{mi:02}", day_label(ms))
    }
}

/// Round steps for the value axis: about `n` intervals up to `max`.
pub fn nice_ticks(max: f64, n: usize) -> Vec<f64> {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|k| k * mag)
        .find(|s| *s >= raw * 0.999_999)
        .unwrap_or(10.0 * mag);
    let top = (max / step).ceil() * step;
    let count = (top / step).round() as usize;
    (0..=count).map(|i| i as f64 * step).collect()
}

/// Time ticks between `from` and `to`: whole hours or days, at most
/// `max_ticks`, midnight named by its date.
pub fn time_ticks(from: Millis, to: Millis, max_ticks: i64) -> Vec<(Millis, String)> {
    const STEPS: [i64; 13] = [
        15 * MINUTE,
        30 * MINUTE,
        HOUR,
        2 * HOUR,
        3 * HOUR,
        6 * HOUR,
        12 * HOUR,
        DAY,
        2 * DAY,
        7 * DAY,
        14 * DAY,
        28 * DAY,
        91 * DAY,
    ];
    let span = (to - from).max(1);
    let step = STEPS
        .iter()
        .copied()
        .find(|s| span / s < max_ticks.max(1))
        .unwrap_or(STEPS[STEPS.len() - 1]);
    let mut t = from.div_euclid(step) * step;
    if t < from {
        t += step;
    }
    let mut out = Vec::new();
    while t <= to {
        let label = if step >= DAY || t.rem_euclid(DAY) == 0 {
            day_label(t)
        } else {
            let (_, _, _, h, mi) = parts(t);
            format!("{h:02}:{mi:02}")
        };
        out.push((t, label));
        t += step;
    }
    out
}

/// Lays a chart out.
pub fn line_chart(input: ChartIn) -> LineChart {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let from = input.times.first().copied().unwrap_or(0);
    let to = input
        .times
        .last()
        .map(|t| t + input.bucket_ms.max(1))
        .unwrap_or(from + DAY)
        .max(from + 1);
    // A point sits in the middle of its bucket.
    let x_of =
        |t: Millis| LEFT + ((t - from) as f64 / (to - from) as f64 * plot_w).clamp(0.0, plot_w);
    let mid = input.bucket_ms.max(1) / 2;
    let max = input
        .series
        .iter()
        .flat_map(|s| s.values.iter().flatten().copied())
        .chain(input.baseline.iter().map(|b| b.1))
        .filter(|v| v.is_finite())
        .fold(input.min_top, f64::max);
    let ticks = nice_ticks(max, 4);
    let top = ticks.last().copied().unwrap_or(1.0).max(1e-9);
    let y_of = |v: f64| TOP + plot_h * (1.0 - (v / top).clamp(0.0, 1.0));
    let unit = input.unit;
    let mut has_data = false;
    let series: Vec<SeriesOut> = input
        .series
        .iter()
        .map(|s| {
            let mut d = String::new();
            let mut pen_down = false;
            let mut points = Vec::new();
            for (t, v) in input.times.iter().zip(&s.values) {
                match v.filter(|v| v.is_finite()) {
                    Some(v) => {
                        has_data = true;
                        let (x, y) = (x_of(t + mid), y_of(v));
                        d.push_str(&format!(
                            "{}{x:.1} {y:.1} ",
                            if pen_down { "L" } else { "M" }
                        ));
                        pen_down = true;
                        points.push(Point {
                            x,
                            y,
                            tip: format!(
                                "{}: {}{}",
                                when_label(*t, input.bucket_ms),
                                unit.format(v),
                                if input.series.len() > 1 {
                                    format!(" ({})", s.label)
                                } else {
                                    String::new()
                                }
                            ),
                        });
                    }
                    None => pen_down = false,
                }
            }
            SeriesOut {
                label: s.label.clone(),
                class: s.class,
                d: d.trim_end().to_string(),
                points,
            }
        })
        .collect();
    let rows = input
        .times
        .iter()
        .enumerate()
        .map(|(i, t)| Row {
            when: when_label(*t, input.bucket_ms),
            href: input.links.get(i).cloned().flatten(),
            cells: input
                .series
                .iter()
                .map(|s| {
                    s.values
                        .get(i)
                        .copied()
                        .flatten()
                        .map(|v| unit.format(v))
                        .unwrap_or_else(|| "–".into())
                })
                .collect(),
        })
        .collect();
    let summary = {
        let mut parts = Vec::new();
        for s in &input.series {
            let vals: Vec<f64> = s.values.iter().flatten().copied().collect();
            if let (Some(last), Some(peak)) = (vals.last(), vals.iter().copied().reduce(f64::max)) {
                parts.push(format!(
                    "{}: latest {}, highest {}",
                    s.label,
                    unit.format(*last),
                    unit.format(peak)
                ));
            } else {
                parts.push(format!("{}: no data", s.label));
            }
        }
        format!(
            "{} from {} to {}. {}.",
            input.title,
            when_label(from, input.bucket_ms),
            when_label(to - input.bucket_ms.max(1), input.bucket_ms),
            parts.join("; ")
        )
    };
    LineChart {
        title: input.title.clone(),
        summary,
        x_ticks: time_ticks(from, to, 7)
            .into_iter()
            .map(|(t, label)| Tick { at: x_of(t), label })
            .collect(),
        y_ticks: ticks
            .iter()
            .map(|v| Tick {
                at: y_of(*v),
                label: unit.format(*v),
            })
            .collect(),
        series,
        baseline: input
            .baseline
            .as_ref()
            .map(|(label, v)| (y_of(*v), format!("{label} {}", unit.format(*v)))),
        highlight: input
            .highlight
            .map(|(a, b)| (x_of(a), (x_of(b) - x_of(a)).max(2.0))),
        columns: input.series.iter().map(|s| s.label.clone()).collect(),
        rows,
        has_data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEC_3: Millis = 1_796_256_000_000; // 2026-12-03 00:00 UTC

    #[test]
    fn value_ticks_are_round_and_cover_the_maximum() {
        let close = |a: Vec<f64>, b: &[f64]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9)
        };
        assert!(close(nice_ticks(0.62, 4), &[0.0, 0.2, 0.4, 0.6, 0.8]));
        assert_eq!(nice_ticks(7.0, 4), vec![0.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(nice_ticks(100.0, 4), vec![0.0, 25.0, 50.0, 75.0, 100.0]);
        assert_eq!(nice_ticks(0.0, 4), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        let t = nice_ticks(1234.0, 4);
        assert!(
            t.last().copied().unwrap_or(0.0) >= 1234.0 && t.len() <= 6,
            "{t:?}"
        );
    }

    #[test]
    fn time_ticks_name_days_and_hours() {
        assert_eq!(day_label(DEC_3), "3 Dec");
        let week = time_ticks(DEC_3, DEC_3 + 7 * DAY, 7);
        assert_eq!(week.first().map(|t| t.1.as_str()), Some("3 Dec"));
        assert!(week.len() <= 8 && week.len() >= 4, "{week:?}");
        let hours = time_ticks(DEC_3 + 9 * HOUR + 5 * MINUTE, DEC_3 + 15 * HOUR, 7);
        let labels: Vec<&str> = hours.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(
            labels,
            ["10:00", "11:00", "12:00", "13:00", "14:00", "15:00"]
        );
        let across = time_ticks(DEC_3 - 6 * HOUR, DEC_3 + 6 * HOUR, 7);
        assert!(
            across.iter().any(|t| t.1 == "3 Dec"),
            "midnight is named by its date: {across:?}"
        );
    }

    #[test]
    fn a_chart_has_axes_points_gaps_a_baseline_and_a_table() {
        let times: Vec<Millis> = (0..4).map(|i| DEC_3 + i * DAY).collect();
        let c = line_chart(ChartIn {
            title: "First response".into(),
            unit: Unit::Minutes,
            times,
            bucket_ms: DAY,
            series: vec![SeriesIn {
                label: "Median".into(),
                class: "s1",
                values: vec![Some(4.0), None, Some(8.0), Some(2.5)],
            }],
            baseline: Some(("usually".into(), 3.0)),
            highlight: Some((DEC_3 + 2 * DAY, DEC_3 + 3 * DAY)),
            links: vec![Some("/a".into()), None, None, None],
            min_top: 0.0,
        });
        assert!(c.has_data);
        assert_eq!(c.series[0].points.len(), 3);
        assert_eq!(
            c.series[0].d.matches('M').count(),
            2,
            "the gap breaks the line"
        );
        assert_eq!(c.series[0].points[1].tip, "5 Dec: 8.0 min");
        assert_eq!(c.y_ticks.last().map(|t| t.label.as_str()), Some("8.0 min"));
        assert!(c
            .y_ticks
            .iter()
            .all(|t| t.at >= TOP - 0.01 && t.at <= HEIGHT - BOTTOM + 0.01));
        assert_eq!(c.x_ticks.first().map(|t| t.label.as_str()), Some("3 Dec"));
        let (y, label) = c.baseline.clone().unwrap_or_default();
        assert_eq!(label, "usually 3.0 min");
        assert!(
            y > c.series[0].points[1].y,
            "3 min sits below the 8 min peak"
        );
        assert!(c.highlight.is_some());
        assert_eq!(c.rows.len(), 4);
        assert_eq!(c.rows[1].cells, vec!["–".to_string()]);
        assert_eq!(c.rows[0].href.as_deref(), Some("/a"));
        assert!(
            c.summary.contains("latest 2.5 min, highest 8.0 min"),
            "{}",
            c.summary
        );
    }

    #[test]
    fn shares_read_as_percentages_and_an_empty_chart_says_so() {
        assert_eq!(Unit::Share.format(0.62), "62%");
        assert_eq!(Unit::Minutes.format(150.0), "2.5 h");
        let c = line_chart(ChartIn {
            title: "SLA met".into(),
            unit: Unit::Share,
            times: vec![DEC_3],
            bucket_ms: DAY,
            series: vec![SeriesIn {
                label: "SLA met".into(),
                class: "s1",
                values: vec![None],
            }],
            baseline: None,
            highlight: None,
            links: vec![],
            min_top: 1.0,
        });
        assert!(!c.has_data);
        assert_eq!(c.y_ticks.last().map(|t| t.label.as_str()), Some("100%"));
        assert!(c.summary.contains("no data"));
    }
}
