//! The chart rendered to PNG (resvg, pure Rust): each shaded side really shows its cheaper target's
//! shade and both shipped stacks' line colours appear. The PNG is kept at
//! `target/tmp/cost-chart.png` for a person to look at.

use apuntador::cost::chart::{FARGATE_COLOUR, FARGATE_SHADE, LAMBDA_COLOUR, LAMBDA_SHADE};
use resvg::{tiny_skia, usvg};

fn rgb(hex: &str) -> (u8, u8, u8) {
    let value = u32::from_str_radix(hex.trim_start_matches('#'), 16).expect("a hex colour");
    ((value >> 16) as u8, (value >> 8) as u8, value as u8)
}

fn pixel(pixmap: &tiny_skia::Pixmap, x: f64, y: f64) -> (u8, u8, u8) {
    let p = pixmap
        .pixel(x as u32, y as u32)
        .expect("inside the image")
        .demultiply();
    (p.red(), p.green(), p.blue())
}

/// Renders `svg` to a PNG named `name` under `target/tmp`; returns the pixels.
fn render(svg: &str, name: &str) -> tiny_skia::Pixmap {
    let mut options = usvg::Options::default();
    options.fontdb_mut().load_system_fonts();
    let tree = usvg::Tree::from_str(svg, &options).expect("resvg parses the chart");
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).expect("a pixmap");
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    pixmap.save_png(&out).expect("the PNG is written");
    println!("rendered {}", out.display());
    pixmap
}

#[test]
fn the_chart_renders_to_png_with_each_side_shaded_and_both_stacks_drawn() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let svg = crate::binary::chart_of_sample(dir.path());
    check(&svg, &render(&svg, "cost-chart.png"));
}

#[test]
fn the_committed_chart_renders_with_each_side_shaded_and_both_stacks_drawn() {
    let svg = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cost/cost-chart.svg"),
    )
    .expect("the committed chart");
    check(&svg, &render(&svg, "docs-cost-chart.png"));
}

fn check(svg: &str, pixmap: &tiny_skia::Pixmap) {
    // Each side's rectangle shows its shade a few pixels inside its bottom corners (under the lines'
    // range, away from labels).
    let document = roxmltree::Document::parse(svg).unwrap();
    let mut sides = 0;
    for side in document
        .descendants()
        .filter(|n| n.attribute("class") == Some("side"))
    {
        let number = |name: &str| -> f64 { side.attribute(name).unwrap().parse().unwrap() };
        let (x, y, width, height) = (number("x"), number("y"), number("width"), number("height"));
        let expected = match side.attribute("data-cheaper") {
            Some("Lambda") => LAMBDA_SHADE,
            Some("Fargate") => FARGATE_SHADE,
            other => panic!("unexpected side {other:?}"),
        };
        for probe_x in [x + 4.0, x + width - 4.0] {
            assert_eq!(
                pixel(pixmap, probe_x, y + height - 4.0),
                rgb(expected),
                "side {:?} at x={probe_x}",
                side.attribute("data-cheaper")
            );
        }
        sides += 1;
    }
    assert!(sides >= 1);

    // Both stacks' lines are drawn in their colours somewhere.
    let mut seen_lambda = 0;
    let mut seen_fargate = 0;
    for p in pixmap.pixels() {
        let c = p.demultiply();
        let c = (c.red(), c.green(), c.blue());
        if c == rgb(LAMBDA_COLOUR) {
            seen_lambda += 1;
        }
        if c == rgb(FARGATE_COLOUR) {
            seen_fargate += 1;
        }
    }
    assert!(seen_lambda > 500, "Lambda line pixels: {seen_lambda}");
    assert!(seen_fargate > 500, "Fargate line pixels: {seen_fargate}");
}
