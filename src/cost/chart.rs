//! The SVG chart of the cost model: monthly cost versus monthly requests, log-log, one line per
//! shipped stack plus at most two variants (dashed), the break-even of the shipped stacks marked, and
//! each side of it shaded and labelled with the cheaper target.
//!
//! Hand-written SVG text (no plotting crate). Machine-readable hooks for tests and tools: every line is
//! `<polyline class="option" data-option="ID">` (`lambda`, `fargate`, `variant-1`, `variant-2`), each
//! shaded side `<rect class="side" data-cheaper="Lambda|Fargate">`, the break-even
//! `<circle class="break-even" data-volume="N">`. Depends on nothing else in the crate.

use std::fmt::Write as _;

use super::report::{format_money, format_volume};
use super::{CostModel, Crossing, Deployment};

const WIDTH: f64 = 1200.0;
const HEIGHT: f64 = 720.0;
const PLOT_LEFT: f64 = 100.0;
const PLOT_TOP: f64 = 90.0;
const PLOT_WIDTH: f64 = 720.0;
const PLOT_HEIGHT: f64 = 540.0;
const LEGEND_LEFT: f64 = 850.0;
const POINTS_PER_DECADE: u32 = 60;

/// Colour of the Lambda lines and of the side where Lambda is cheaper.
pub const LAMBDA_COLOUR: &str = "#c45500";
/// Shade of the side where Lambda is cheaper.
pub const LAMBDA_SHADE: &str = "#fbe6d4";
/// Colour of the Fargate lines and of the side where Fargate is cheaper.
pub const FARGATE_COLOUR: &str = "#1f5fa8";
/// Shade of the side where Fargate is cheaper.
pub const FARGATE_SHADE: &str = "#dce8f6";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One drawn line: id, legend label, option, colour, dash pattern, stroke width.
struct Series<'a> {
    id: String,
    label: String,
    option: &'a Deployment,
    colour: &'static str,
    dash: Option<&'static str>,
    width: f64,
}

/// Maps volumes and costs to chart coordinates (log-log).
struct Axes {
    x_decades: (i32, i32),
    y_decades: (i32, i32),
}

impl Axes {
    fn x(&self, requests: f64) -> f64 {
        let (low, high) = self.x_decades;
        PLOT_LEFT + (requests.log10() - f64::from(low)) / f64::from(high - low) * PLOT_WIDTH
    }

    fn y(&self, cost: f64) -> f64 {
        let (low, high) = self.y_decades;
        let cost = cost.max(10f64.powi(low));
        PLOT_TOP + PLOT_HEIGHT
            - (cost.log10() - f64::from(low)) / f64::from(high - low) * PLOT_HEIGHT
    }

    fn volumes(&self) -> Vec<f64> {
        let (low, high) = self.x_decades;
        let steps = (high - low) as u32 * POINTS_PER_DECADE;
        (0..=steps)
            .map(|step| 10f64.powf(f64::from(low) + f64::from(step) / f64::from(POINTS_PER_DECADE)))
            .collect()
    }
}

fn decade(value: f64, round_up: bool) -> i32 {
    let exponent = value.log10();
    let exponent = if round_up {
        (exponent - 1e-9).ceil()
    } else {
        (exponent + 1e-9).floor()
    };
    exponent as i32
}

fn money_tick(exponent: i32) -> String {
    if exponent < 0 {
        format!("${}", 10f64.powi(exponent))
    } else {
        format_money(10f64.powi(exponent))
            .trim_end_matches(".00")
            .to_owned()
    }
}

/// The chart as SVG text. `variants` (at most two are drawn) are named alternatives shown dashed in
/// their target's colour.
pub fn svg(
    model: &CostModel,
    lambda: &Deployment,
    fargate: &Deployment,
    variants: &[(String, Deployment)],
) -> String {
    let crossing = model.break_even(lambda, fargate);
    let mut low = 1e4f64;
    let mut high = 1e9f64;
    if let Crossing::At(volume) = crossing {
        // A decade either side of the break-even, so both shaded sides are wide enough to read.
        low = low.min(volume / 10.0);
        high = high.max(volume * 10.0);
    }
    let mut axes = Axes {
        x_decades: (decade(low, false), decade(high, true)),
        y_decades: (0, 1),
    };
    let volumes = axes.volumes();
    let mut series = vec![
        Series {
            id: "lambda".into(),
            label: format!("Lambda stack as shipped ({})", lambda.describe()),
            option: lambda,
            colour: LAMBDA_COLOUR,
            dash: None,
            width: 3.5,
        },
        Series {
            id: "fargate".into(),
            label: format!("Fargate stack as shipped ({})", fargate.describe()),
            option: fargate,
            colour: FARGATE_COLOUR,
            dash: None,
            width: 3.5,
        },
    ];
    for (index, (name, option)) in variants.iter().take(2).enumerate() {
        let colour = match option {
            Deployment::Lambda(_) => LAMBDA_COLOUR,
            Deployment::Fargate(_) => FARGATE_COLOUR,
        };
        series.push(Series {
            id: format!("variant-{}", index + 1),
            label: format!("variant: {name}"),
            option,
            colour,
            dash: Some("9 5"),
            width: 2.0,
        });
    }
    let costs: Vec<Vec<f64>> = series
        .iter()
        .map(|line| {
            volumes
                .iter()
                .map(|&volume| model.monthly_cost(line.option, volume))
                .collect()
        })
        .collect();
    let (min_cost, max_cost) = costs
        .iter()
        .flatten()
        .fold((f64::INFINITY, 0f64), |(min, max), &cost| {
            (min.min(cost), max.max(cost))
        });
    axes.y_decades = (
        decade(min_cost.max(1e-2), false),
        decade(max_cost.max(1e-1), true),
    );
    if axes.y_decades.1 <= axes.y_decades.0 {
        axes.y_decades.1 = axes.y_decades.0 + 1;
    }

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="13">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="{PLOT_LEFT}" y="32" font-size="20" font-weight="bold">Lambda or Fargate: monthly cost of the shipped stacks</text>"#
    );
    if model.measurements.sample {
        let _ = writeln!(
            svg,
            r##"<text x="{:.2}" y="32" text-anchor="end" font-size="16" font-weight="bold" fill="#b00000">SAMPLE INPUT, NOT MEASURED</text>"##,
            WIDTH - 20.0
        );
    }
    let _ = writeln!(
        svg,
        r##"<text x="{PLOT_LEFT}" y="56" fill="#444">log-log; {} list prices for {}; route mix {}; measured on {}, commit {}</text>"##,
        escape(&model.prices.currency),
        escape(&model.prices.region),
        escape(&model.mix.to_string()),
        escape(model.measurements.machine_or_unknown()),
        escape(model.measurements.commit_or_unknown())
    );

    // The two sides of the break-even, shaded with the cheaper target's colour.
    let (left, right) = (PLOT_LEFT, PLOT_LEFT + PLOT_WIDTH);
    let sides: Vec<(f64, f64, &str, &str, &str)> = match crossing {
        Crossing::At(volume) => {
            let x = axes.x(volume).clamp(left, right);
            vec![
                (left, x, "Lambda", LAMBDA_SHADE, LAMBDA_COLOUR),
                (x, right, "Fargate", FARGATE_SHADE, FARGATE_COLOUR),
            ]
        }
        Crossing::FirstCheaperThroughout => {
            vec![(left, right, "Lambda", LAMBDA_SHADE, LAMBDA_COLOUR)]
        }
        Crossing::SecondCheaperThroughout => {
            vec![(left, right, "Fargate", FARGATE_SHADE, FARGATE_COLOUR)]
        }
    };
    svg.push_str("<g class=\"sides\">\n");
    for (x1, x2, target, shade, colour) in &sides {
        let _ = writeln!(
            svg,
            r#"<rect class="side" data-cheaper="{target}" x="{x1:.2}" y="{PLOT_TOP}" width="{:.2}" height="{PLOT_HEIGHT}" fill="{shade}"/>"#,
            x2 - x1
        );
        if x2 - x1 > 120.0 {
            let _ = writeln!(
                svg,
                r#"<text class="side-label" x="{:.2}" y="{:.2}" text-anchor="middle" font-size="18" font-weight="bold" fill="{colour}">{target} cheaper</text>"#,
                (x1 + x2) / 2.0,
                PLOT_TOP + 28.0
            );
        }
    }
    svg.push_str("</g>\n");

    // Grid and ticks, one per decade.
    svg.push_str("<g class=\"grid\" stroke=\"#c8c8c8\" stroke-width=\"1\">\n");
    for exponent in axes.x_decades.0..=axes.x_decades.1 {
        let x = axes.x(10f64.powi(exponent));
        let _ = writeln!(
            svg,
            r#"<line x1="{x:.2}" y1="{PLOT_TOP}" x2="{x:.2}" y2="{:.2}"/>"#,
            PLOT_TOP + PLOT_HEIGHT
        );
    }
    for exponent in axes.y_decades.0..=axes.y_decades.1 {
        let y = axes.y(10f64.powi(exponent));
        let _ = writeln!(
            svg,
            r#"<line x1="{PLOT_LEFT}" y1="{y:.2}" x2="{:.2}" y2="{y:.2}"/>"#,
            PLOT_LEFT + PLOT_WIDTH
        );
    }
    svg.push_str("</g>\n<g class=\"ticks\" fill=\"#333\">\n");
    for exponent in axes.x_decades.0..=axes.x_decades.1 {
        let _ = writeln!(
            svg,
            r#"<text x="{:.2}" y="{:.2}" text-anchor="middle">{}</text>"#,
            axes.x(10f64.powi(exponent)),
            PLOT_TOP + PLOT_HEIGHT + 20.0,
            format_volume(10f64.powi(exponent))
        );
    }
    for exponent in axes.y_decades.0..=axes.y_decades.1 {
        let _ = writeln!(
            svg,
            r#"<text x="{:.2}" y="{:.2}" text-anchor="end">{}</text>"#,
            PLOT_LEFT - 8.0,
            axes.y(10f64.powi(exponent)) + 4.0,
            escape(&money_tick(exponent))
        );
    }
    svg.push_str("</g>\n");
    let _ = writeln!(
        svg,
        r##"<rect x="{PLOT_LEFT}" y="{PLOT_TOP}" width="{PLOT_WIDTH}" height="{PLOT_HEIGHT}" fill="none" stroke="#333"/>"##
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.2}" y="{:.2}" text-anchor="middle" font-size="15">Requests per month</text>"#,
        PLOT_LEFT + PLOT_WIDTH / 2.0,
        PLOT_TOP + PLOT_HEIGHT + 46.0
    );
    let _ = writeln!(
        svg,
        r#"<text transform="translate(30 {:.2}) rotate(-90)" text-anchor="middle" font-size="15">Monthly cost ({})</text>"#,
        PLOT_TOP + PLOT_HEIGHT / 2.0,
        escape(&model.prices.currency)
    );

    // The lines: variants first, so the shipped stacks stay on top.
    svg.push_str("<g class=\"options\" fill=\"none\" stroke-linejoin=\"round\">\n");
    for index in (0..series.len()).rev() {
        let Series {
            id,
            label,
            colour,
            dash,
            width,
            ..
        } = &series[index];
        let points: Vec<String> = volumes
            .iter()
            .zip(&costs[index])
            .map(|(&volume, &cost)| format!("{:.2},{:.2}", axes.x(volume), axes.y(cost)))
            .collect();
        let dash = dash
            .map(|dash| format!(r#" stroke-dasharray="{dash}""#))
            .unwrap_or_default();
        let _ = writeln!(
            svg,
            r#"<polyline class="option" data-option="{id}" stroke="{colour}" stroke-width="{width}"{dash} points="{}"><title>{}</title></polyline>"#,
            points.join(" "),
            escape(label)
        );
    }
    svg.push_str("</g>\n");

    // The break-even.
    if let Crossing::At(volume) = crossing {
        let cost = model.monthly_cost(lambda, volume);
        let (x, y) = (axes.x(volume), axes.y(cost));
        let _ = writeln!(
            svg,
            r##"<line class="break-even-guide" x1="{x:.2}" y1="{PLOT_TOP}" x2="{x:.2}" y2="{:.2}" stroke="#111" stroke-width="1.5" stroke-dasharray="4 3"/>"##,
            PLOT_TOP + PLOT_HEIGHT
        );
        let _ = writeln!(
            svg,
            r##"<circle class="break-even" data-volume="{volume:.0}" cx="{x:.2}" cy="{y:.2}" r="7" fill="white" stroke="#111" stroke-width="2.5"><title>break-even at {} requests/month ({})</title></circle>"##,
            format_volume(volume),
            escape(&format_money(cost))
        );
        let anchor_right = x > PLOT_LEFT + PLOT_WIDTH * 0.6;
        let (text_x, anchor) = if anchor_right {
            (x - 12.0, "end")
        } else {
            (x + 12.0, "start")
        };
        let _ = writeln!(
            svg,
            r##"<text x="{text_x:.2}" y="{:.2}" text-anchor="{anchor}" font-weight="bold" stroke="white" stroke-width="4" paint-order="stroke">break-even: {} requests/month, {}</text>"##,
            (y - 14.0).max(PLOT_TOP + 50.0),
            format_volume(volume),
            escape(&format_money(cost))
        );
    }

    // Legend.
    svg.push_str("<g class=\"legend\">\n");
    let mut y = PLOT_TOP + 8.0;
    for Series {
        label,
        colour,
        dash,
        width,
        ..
    } in &series
    {
        let dash = dash
            .map(|dash| format!(r#" stroke-dasharray="{dash}""#))
            .unwrap_or_default();
        let _ = writeln!(
            svg,
            r#"<line x1="{LEGEND_LEFT}" y1="{y:.2}" x2="{:.2}" y2="{y:.2}" stroke="{colour}" stroke-width="{width}"{dash}/>"#,
            LEGEND_LEFT + 34.0
        );
        // The label's head in bold, its parenthesis below in small type, both wrapped to the column.
        let (head, tail) = match label.find(" (") {
            Some(at) => (&label[..at], Some(&label[at + 1..])),
            None => (label.as_str(), None),
        };
        for chunk in wrap(head, 34) {
            let _ = writeln!(
                svg,
                r#"<text x="{:.2}" y="{:.2}" font-weight="bold">{}</text>"#,
                LEGEND_LEFT + 42.0,
                y + 4.0,
                escape(&chunk)
            );
            y += 16.0;
        }
        if let Some(tail) = tail {
            for chunk in wrap(tail, 44) {
                let _ = writeln!(
                    svg,
                    r##"<text x="{:.2}" y="{:.2}" font-size="11" fill="#444">{}</text>"##,
                    LEGEND_LEFT + 42.0,
                    y + 4.0,
                    escape(&chunk)
                );
                y += 14.0;
            }
        }
        y += 12.0;
    }
    svg.push_str("</g>\n</svg>\n");
    svg
}

/// Splits `text` into lines of at most about `width` characters at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split(' ') {
        if !current.is_empty() && current.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}
