//! The `stats` chart as a PNG: tickets opened vs resolved per day (lines, top) and the
//! first-response distribution (histogram, bottom), drawn with `plotters` into a memory
//! bitmap and encoded with `png`. Text is set in DejaVu Sans, embedded in the binary
//! (`assets/fonts/DejaVuSans.ttf`, Bitstream Vera licence beside it): no system font is
//! looked up, so the chart looks the same on every machine.

use plotters::prelude::*;
use plotters::style::FontStyle;

use super::messages;
use crate::domain::report::ChartData;

/// The chart's width, pixels.
pub const WIDTH: u32 = 960;
/// The chart's height, pixels.
pub const HEIGHT: u32 = 720;

/// DejaVu Sans (Bitstream Vera licence: `assets/fonts/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The family name the embedded font is registered under.
const FAMILY: &str = "sans-serif";

/// Colour of "opened".
const OPENED: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
/// Colour of "resolved".
const RESOLVED: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);
/// Colour of the histogram bars.
const BARS: RGBColor = RGBColor(0xff, 0x7f, 0x0e);

/// Why a chart could not be drawn (the font did not load, or plotters or the encoder
/// failed).
#[derive(Debug, thiserror::Error)]
#[error("chart: {0}")]
pub struct ChartError(String);

fn register_font() -> Result<(), ChartError> {
    static DONE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
            .map_err(|_| "the embedded font does not load".to_string())
    })
    .clone()
    .map_err(ChartError)
}

fn err<E: std::fmt::Debug>(e: E) -> ChartError {
    ChartError(format!("{e:?}"))
}

/// `data` drawn as a [`WIDTH`] × [`HEIGHT`] RGB PNG.
///
/// Errors: [`ChartError`] when the font does not load or drawing or encoding fails.
pub fn render_png(data: &ChartData) -> Result<Vec<u8>, ChartError> {
    register_font()?;
    let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    draw(data, &mut pixels)?;
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(err)?;
        w.write_image_data(&pixels).map_err(err)?;
        w.finish().map_err(err)?;
    }
    Ok(out)
}

type Day = (chrono::NaiveDate, i64, i64);

fn draw(data: &ChartData, pixels: &mut [u8]) -> Result<(), ChartError> {
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(&data.title, (FAMILY, 22).into_font())
        .map_err(err)?;
    let (top, bottom) = root.split_vertically(HEIGHT * 55 / 100);

    // Opened vs resolved per day.
    let n = data.days.len().max(1);
    let y_max = data
        .days
        .iter()
        .map(|(_, o, r)| (*o).max(*r))
        .max()
        .unwrap_or(0)
        .max(1)
        + 1;
    let label_of = |i: &usize| {
        data.days
            .get(*i)
            .map(|(d, _, _)| d.format("%m-%d").to_string())
            .unwrap_or_default()
    };
    let mut chart = ChartBuilder::on(&top)
        .caption(messages::CHART_DAYS, (FAMILY, 16))
        .margin(12)
        .margin_right(28)
        .x_label_area_size(32)
        .y_label_area_size(44)
        .build_cartesian_2d(0usize..n.saturating_sub(1).max(1), 0i64..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_labels(n.min(10))
        .x_label_formatter(&label_of)
        .y_desc(messages::CHART_TICKETS)
        .label_style((FAMILY, 12))
        .draw()
        .map_err(err)?;
    let points = |pick: fn(&Day) -> i64| -> Vec<(usize, i64)> {
        data.days
            .iter()
            .enumerate()
            .map(|(i, d)| (i, pick(d)))
            .collect()
    };
    let opened = points(|d| d.1);
    let resolved = points(|d| d.2);
    chart
        .draw_series(LineSeries::new(opened.clone(), OPENED.stroke_width(3)))
        .map_err(err)?
        .label(messages::CHART_OPENED)
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], OPENED.stroke_width(3)));
    chart
        .draw_series(LineSeries::new(resolved.clone(), RESOLVED.stroke_width(3)))
        .map_err(err)?
        .label(messages::CHART_RESOLVED)
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RESOLVED.stroke_width(3)));
    chart
        .draw_series(
            opened
                .into_iter()
                .map(|p| Circle::new(p, 3, OPENED.filled())),
        )
        .map_err(err)?;
    chart
        .draw_series(
            resolved
                .into_iter()
                .map(|p| Circle::new(p, 3, RESOLVED.filled())),
        )
        .map_err(err)?;
    chart
        .configure_series_labels()
        .label_font((FAMILY, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;

    // First-response histogram.
    let bars = data.first_response.len().max(1);
    let h_max = data
        .first_response
        .iter()
        .map(|(_, c)| *c)
        .max()
        .unwrap_or(0)
        .max(1)
        + 1;
    let bar_label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => data
            .first_response
            .get(*i)
            .map(|(l, _)| l.clone())
            .unwrap_or_default(),
        SegmentValue::Last => String::new(),
    };
    let mut hist = ChartBuilder::on(&bottom)
        .caption(messages::CHART_FIRST_RESPONSE, (FAMILY, 16))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(44)
        .build_cartesian_2d((0usize..bars - 1).into_segmented(), 0i64..h_max)
        .map_err(err)?;
    hist.configure_mesh()
        .disable_x_mesh()
        .x_labels(bars)
        .x_label_formatter(&bar_label)
        .y_desc(messages::CHART_TICKETS)
        .label_style((FAMILY, 12))
        .draw()
        .map_err(err)?;
    hist.draw_series(
        Histogram::vertical(&hist)
            .style(BARS.filled())
            .margin(8)
            .data(
                data.first_response
                    .iter()
                    .enumerate()
                    .map(|(i, (_, c))| (i, *c)),
            ),
    )
    .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_an_empty_range_too() {
        let data = ChartData {
            title: "empty".into(),
            days: Vec::new(),
            first_response: Vec::new(),
        };
        let png = render_png(&data).expect("draws");
        assert_eq!(&png[1..4], b"PNG");
    }
}
