//! Masking of personal fields for display (脱敏). Views show only what a task needs.

/// `13812341234` → `138****1234`. Shorter numbers keep their last 4 only.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().filter(|c| !c.is_whitespace()).collect();
    if chars.len() >= 11 {
        let n = chars.len();
        let mut out: String = chars[..3].iter().collect();
        out.push_str(&"*".repeat(n - 7));
        out.extend(&chars[n - 4..]);
        out
    } else {
        keep_last(&chars, 4)
    }
}

/// Identity-card numbers keep only their last 4 characters.
pub fn mask_id_number(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    keep_last(&chars, 4)
}

/// Names keep their first character: `张三丰` → `张**`.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => {
            let rest = chars.count().max(1);
            format!("{first}{}", "*".repeat(rest))
        }
        None => String::new(),
    }
}

fn keep_last(chars: &[char], keep: usize) -> String {
    if chars.len() <= keep {
        return "*".repeat(chars.len());
    }
    let n = chars.len();
    let mut out = "*".repeat(n - keep);
    out.extend(&chars[n - keep..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_what_is_needed() {
        assert_eq!(mask_phone("13812341234"), "138****1234");
        assert_eq!(mask_phone("0571-8888"), "*****8888");
        assert_eq!(mask_id_number("33010219900101123X"), "**************123X");
        assert_eq!(mask_id_number("123"), "***");
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name("李"), "李*");
    }
}
