//! The bank's brand: the name and accent colour its pages and mails carry.
//! Colours reach pages as a stylesheet (`brand.css`), since the pages' CSP
//! allows no inline style.

use std::fmt;
use std::str::FromStr;

/// A `#rrggbb` colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour([u8; 3]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a colour: expected #rrggbb")]
pub struct InvalidColour;

impl FromStr for Colour {
    type Err = InvalidColour;
    fn from_str(s: &str) -> Result<Self, InvalidColour> {
        let hex = s.strip_prefix('#').ok_or(InvalidColour)?;
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(InvalidColour);
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| InvalidColour);
        Ok(Self([byte(0)?, byte(2)?, byte(4)?]))
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r, g, b] = self.0;
        write!(f, "#{r:02x}{g:02x}{b:02x}")
    }
}

impl Colour {
    /// WCAG 2 relative luminance, 0 (black) to 1 (white).
    fn luminance(self) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let [r, g, b] = self.0;
        0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    }

    /// WCAG 2 contrast ratio against white, 1 to 21.
    pub fn contrast_with_white(self) -> f64 {
        1.05 / (self.luminance() + 0.05)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    /// The bank's name as its customers know it.
    pub name: String,
    /// Links, buttons and headings; white text sits on it, so it must keep a
    /// contrast of 4.5:1 with white (checked when the configuration loads).
    pub accent: Colour,
}

impl Default for Brand {
    fn default() -> Self {
        Self {
            name: "FinTechAPI Demo Bank".to_owned(),
            accent: Colour([0x0b, 0x5c, 0xad]),
        }
    }
}

impl Brand {
    /// The stylesheet every page links after its own.
    pub fn stylesheet(&self) -> String {
        format!(":root {{ --accent: {}; }}\n", self.accent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_parse_only_as_six_hex_digits_and_print_back() {
        assert_eq!("#0B5CAD".parse::<Colour>().unwrap().to_string(), "#0b5cad");
        for bad in [
            "0b5cad",
            "#0b5ca",
            "#0b5cadd",
            "#0g5cad",
            "red",
            "#0b5cad;}",
        ] {
            assert!(bad.parse::<Colour>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_default_accent_is_readable_under_white_text() {
        assert!(Brand::default().accent.contrast_with_white() >= 4.5);
        assert!("#ffcc00".parse::<Colour>().unwrap().contrast_with_white() < 4.5);
        let black = "#000000".parse::<Colour>().unwrap().contrast_with_white();
        assert!((black - 21.0).abs() < 0.01);
    }
}
