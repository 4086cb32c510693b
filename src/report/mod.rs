//! DR reports: the single-file HTML report and the inline SVG charts it embeds.
pub mod svg;
