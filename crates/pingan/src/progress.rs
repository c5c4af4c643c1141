//! Progress bars for long CLI work.
use indicatif::{ProgressBar, ProgressStyle};

pub fn bar(len: u64, what: &str, bytes: bool) -> ProgressBar {
    let pb = ProgressBar::new(len);
    let template = if bytes {
        "{msg:24} [{bar:40}] {bytes}/{total_bytes} ({eta})"
    } else {
        "{msg:24} [{bar:40}] {pos}/{len} ({eta})"
    };
    pb.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}
