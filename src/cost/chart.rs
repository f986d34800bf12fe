//! The SVG chart of the cost model: monthly cost versus monthly requests, log-log, one polyline per
//! deployment option, a legend, and each front door's break-even against the Fargate floor marked.
//!
//! Hand-written SVG text (no plotting crate). Colour encodes the front door (Lambda) or the capacity
//! kind (Fargate), a lighter tint marks x86_64 Lambda, the dash pattern encodes the Lambda memory size
//! or the Fargate egress, and the Fargate floor is drawn thicker. Machine-readable hooks for tests and
//! tools: every option line is `<polyline class="option" data-option="ID">`, every break-even marker
//! `<circle class="break-even" data-lambda="ID" data-fargate="ID" data-volume="N">`. Depends on nothing
//! else in the crate.

use std::fmt::Write as _;

use super::report::{format_money, format_volume};
use super::{Architecture, CostModel, Crossing, DeploymentOption, Egress, FrontDoor, VOLUMES};

const WIDTH: f64 = 1240.0;
const HEIGHT: f64 = 760.0;
const PLOT_LEFT: f64 = 100.0;
const PLOT_TOP: f64 = 70.0;
const PLOT_WIDTH: f64 = 680.0;
const PLOT_HEIGHT: f64 = 600.0;
const LEGEND_LEFT: f64 = 820.0;
const LEGEND_ROW: f64 = 20.0;
const POINTS_PER_DECADE: u32 = 60;

/// Stroke colour, dash pattern and width of an option's line.
struct Style {
    colour: &'static str,
    dash: Option<&'static str>,
    width: f64,
}

fn style(option: DeploymentOption, floor: DeploymentOption) -> Style {
    let (colour, dash) = match option {
        DeploymentOption::Lambda {
            memory_mb,
            architecture,
            front_door,
        } => {
            let arm = architecture == Architecture::Arm64;
            let colour = match (front_door, arm) {
                (FrontDoor::HttpApi, true) => "#1f5fa8",
                (FrontDoor::HttpApi, false) => "#7fb2e5",
                (FrontDoor::RestApi, true) => "#c0261e",
                (FrontDoor::RestApi, false) => "#f08c85",
                (FrontDoor::Alb, true) => "#237a2a",
                (FrontDoor::Alb, false) => "#86cc7e",
                (FrontDoor::FunctionUrl, true) => "#c46000",
                (FrontDoor::FunctionUrl, false) => "#f5b261",
            };
            let dash = match memory_mb {
                0..=128 => None,
                129..=256 => Some("7 4"),
                _ => Some("2 3"),
            };
            (colour, dash)
        }
        DeploymentOption::Fargate {
            architecture,
            spot,
            egress,
        } => {
            let colour = match (architecture, spot) {
                (_, true) => "#0f8b8d",
                (Architecture::Arm64, false) => "#6a3d9a",
                (Architecture::X86_64, false) => "#333333",
            };
            let dash = match egress {
                Egress::NatGateway => None,
                Egress::PublicIp => Some("10 3 2 3"),
            };
            (colour, dash)
        }
    };
    let width = if option == floor {
        4.0
    } else if option.is_fargate() {
        2.5
    } else {
        1.6
    };
    Style {
        colour,
        dash,
        width,
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
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

    /// Log-spaced volumes across the x range.
    fn volumes(&self) -> Vec<f64> {
        let (low, high) = self.x_decades;
        let steps = (high - low) as u32 * POINTS_PER_DECADE;
        (0..=steps)
            .map(|step| 10f64.powf(f64::from(low) + f64::from(step) / f64::from(POINTS_PER_DECADE)))
            .collect()
    }
}

/// The decade of `value` rounded down (`floor`) or up.
fn decade(value: f64, round_up: bool) -> i32 {
    let exponent = value.log10();
    let exponent = if round_up {
        (exponent - 1e-9).ceil()
    } else {
        (exponent + 1e-9).floor()
    };
    exponent as i32
}

/// `$0.01`, `$1`, `$1,000` for a y-axis decade.
fn money_tick(exponent: i32) -> String {
    if exponent < 0 {
        format!("${}", 10f64.powi(exponent))
    } else {
        format_money(10f64.powi(exponent))
            .trim_end_matches(".00")
            .to_owned()
    }
}

/// The chart as SVG text: the volumes of [`VOLUMES`] (widened to the decades holding every front
/// door's break-even), every option of [`DeploymentOption::all`], the front-door break-evens marked.
pub fn svg(model: &CostModel) -> String {
    let options = DeploymentOption::all();
    let floor = model.fargate_floor();
    let break_evens = model.front_door_break_evens();

    let mut low = VOLUMES[0];
    let mut high = VOLUMES[VOLUMES.len() - 1];
    for break_even in &break_evens {
        if let Crossing::At(volume) = break_even.crossing {
            low = low.min(volume);
            high = high.max(volume);
        }
    }
    let x_decades = (decade(low, false), decade(high, true));
    let mut axes = Axes {
        x_decades,
        y_decades: (0, 1),
    };
    let volumes = axes.volumes();
    let costs: Vec<Vec<f64>> = options
        .iter()
        .map(|option| {
            volumes
                .iter()
                .map(|&volume| model.monthly_cost(*option, volume))
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
        decade(min_cost.max(1e-4), false),
        decade(max_cost.max(1e-3), true),
    );
    if axes.y_decades.1 <= axes.y_decades.0 {
        axes.y_decades.1 = axes.y_decades.0 + 1;
    }

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let sample = if model.measurements.sample {
        " (SAMPLE INPUT, NOT MEASURED)"
    } else {
        ""
    };
    let _ = writeln!(
        svg,
        r#"<text x="{PLOT_LEFT}" y="30" font-size="18" font-weight="bold">Monthly cost versus monthly requests{}</text>"#,
        escape(sample)
    );
    let _ = writeln!(
        svg,
        r##"<text x="{PLOT_LEFT}" y="50" fill="#555">log-log; {} list prices for {}, retrieved {}; measured on {}, commit {}</text>"##,
        escape(&model.prices.currency),
        escape(&model.prices.region),
        escape(&model.prices.retrieved),
        escape(model.measurements.machine_or_unknown()),
        escape(model.measurements.commit_or_unknown())
    );

    // Grid and ticks, one per decade.
    svg.push_str(r##"<g class="grid" stroke="#dddddd" stroke-width="1">"##);
    svg.push('\n');
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
            PLOT_TOP + PLOT_HEIGHT + 18.0,
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
        r#"<text x="{:.2}" y="{:.2}" text-anchor="middle" font-size="14">Requests per month</text>"#,
        PLOT_LEFT + PLOT_WIDTH / 2.0,
        PLOT_TOP + PLOT_HEIGHT + 42.0
    );
    let _ = writeln!(
        svg,
        r#"<text transform="translate(30 {:.2}) rotate(-90)" text-anchor="middle" font-size="14">Monthly cost ({})</text>"#,
        PLOT_TOP + PLOT_HEIGHT / 2.0,
        escape(&model.prices.currency)
    );

    // One line per option; Lambda first so the Fargate lines stay on top.
    svg.push_str("<g class=\"options\" fill=\"none\" stroke-linejoin=\"round\">\n");
    for (option, option_costs) in options.iter().zip(&costs) {
        let style = style(*option, floor);
        let points: Vec<String> = volumes
            .iter()
            .zip(option_costs)
            .map(|(&volume, &cost)| format!("{:.2},{:.2}", axes.x(volume), axes.y(cost)))
            .collect();
        let dash = style
            .dash
            .map(|dash| format!(r#" stroke-dasharray="{dash}""#))
            .unwrap_or_default();
        let _ = writeln!(
            svg,
            r#"<polyline class="option" data-option="{}" stroke="{}" stroke-width="{}"{dash} points="{}"><title>{}</title></polyline>"#,
            option.id(),
            style.colour,
            style.width,
            points.join(" "),
            escape(&option.label())
        );
    }
    svg.push_str("</g>\n");

    // Break-even markers, with a guide down to the x axis and a label.
    svg.push_str("<g class=\"break-evens\">\n");
    let mut marked = 0;
    for break_even in &break_evens {
        let Crossing::At(volume) = break_even.crossing else {
            continue;
        };
        let DeploymentOption::Lambda { front_door, .. } = break_even.lambda else {
            continue;
        };
        let cost = model.monthly_cost(break_even.lambda, volume);
        let (x, y) = (axes.x(volume), axes.y(cost));
        let _ = writeln!(
            svg,
            r##"<line class="break-even-guide" x1="{x:.2}" y1="{y:.2}" x2="{x:.2}" y2="{:.2}" stroke="#000" stroke-width="1" stroke-dasharray="2 2"/>"##,
            PLOT_TOP + PLOT_HEIGHT
        );
        let _ = writeln!(
            svg,
            r##"<circle class="break-even" data-lambda="{}" data-fargate="{}" data-volume="{volume:.0}" cx="{x:.2}" cy="{y:.2}" r="6" fill="white" stroke="#000" stroke-width="2"><title>{} = Fargate floor at {} requests/month ({})</title></circle>"##,
            break_even.lambda.id(),
            break_even.fargate.id(),
            escape(&break_even.lambda.label()),
            format_volume(volume),
            escape(&format_money(cost))
        );
        let label_y = y - 12.0 - 16.0 * f64::from(marked);
        let _ = writeln!(
            svg,
            r##"<text x="{:.2}" y="{label_y:.2}" text-anchor="end" font-weight="bold" stroke="white" stroke-width="3" paint-order="stroke">{} break-even: {}</text>"##,
            x - 8.0,
            escape(front_door.name()),
            format_volume(volume)
        );
        marked += 1;
    }
    svg.push_str("</g>\n");

    // Legend.
    svg.push_str("<g class=\"legend\">\n");
    let _ = writeln!(
        svg,
        r#"<text x="{LEGEND_LEFT}" y="{:.2}" font-weight="bold">Options (dash: 128/256/512 MB; Fargate: NAT/public IP)</text>"#,
        PLOT_TOP - 8.0
    );
    for (index, option) in options.iter().enumerate() {
        let style = style(*option, floor);
        let y = PLOT_TOP + 8.0 + LEGEND_ROW * index as f64;
        let dash = style
            .dash
            .map(|dash| format!(r#" stroke-dasharray="{dash}""#))
            .unwrap_or_default();
        let _ = writeln!(
            svg,
            r#"<line x1="{LEGEND_LEFT}" y1="{y:.2}" x2="{:.2}" y2="{y:.2}" stroke="{}" stroke-width="{}"{dash}/>"#,
            LEGEND_LEFT + 36.0,
            style.colour,
            style.width
        );
        let floor_note = if *option == floor {
            " (Fargate floor)"
        } else {
            ""
        };
        let _ = writeln!(
            svg,
            r#"<text x="{:.2}" y="{:.2}">{}{floor_note}</text>"#,
            LEGEND_LEFT + 44.0,
            y + 4.0,
            escape(&option.label())
        );
    }
    svg.push_str("</g>\n</svg>\n");
    svg
}
