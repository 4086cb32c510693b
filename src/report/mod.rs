//! DR reports: the report renderers (markdown, single-file HTML) and the inline SVG charts the HTML embeds.
pub mod html;
pub mod markdown;
pub mod svg;
