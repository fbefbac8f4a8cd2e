//! `cowsay`, a program of the `argoproj/argosay:v1` image that Argo's examples call from a
//! shell (`sh -c "cowsay hello"`): the text in a speech balloon above a cow.

use std::io::{self, Read, Write};

/// Lines longer than this are wrapped at a space where there is one (cowsay's default).
const WIDTH: usize = 40;

/// Runs `cowsay` with `args` (the text; stdin when there is none) and returns the exit code.
pub fn cowsay_main(args: Vec<String>) -> i32 {
    let text = if args.is_empty() {
        let mut text = String::new();
        if let Err(err) = io::stdin().take(1 << 20).read_to_string(&mut text) {
            eprintln!("cowsay: cannot read stdin: {err}");
            return 1;
        }
        text
    } else {
        args.join(" ")
    };
    let out = io::stdout();
    let mut out = out.lock();
    match out
        .write_all(cow(&text).as_bytes())
        .and_then(|()| out.flush())
    {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("cowsay: cannot write: {err}");
            1
        }
    }
}

/// The balloon and the cow for `text`.
fn cow(text: &str) -> String {
    let lines = wrap(text);
    let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let mut out = format!(" {}\n", "_".repeat(width + 2));
    for (i, line) in lines.iter().enumerate() {
        let (open, close) = match (lines.len(), i) {
            (1, _) => ('<', '>'),
            (_, 0) => ('/', '\\'),
            (n, i) if i + 1 == n => ('\\', '/'),
            _ => ('|', '|'),
        };
        let pad = width - line.chars().count();
        out.push_str(&format!("{open} {line}{} {close}\n", " ".repeat(pad)));
    }
    out.push_str(&format!(" {}\n", "-".repeat(width + 2)));
    out.push_str(
        "        \\   ^__^\n         \\  (oo)\\_______\n            (__)\\       )\\/\\\n                ||----w |\n                ||     ||\n",
    );
    out
}

/// `text` in lines of at most [`WIDTH`] characters, broken at spaces where possible; tabs
/// become spaces and empty input is one empty line.
fn wrap(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text
        .replace('\t', "        ")
        .trim_end_matches('\n')
        .split('\n')
    {
        let mut line = String::new();
        for word in paragraph.split(' ') {
            let mut word: Vec<char> = word.chars().collect();
            while word.len() > WIDTH {
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                let rest = word.split_off(WIDTH);
                lines.push(word.into_iter().collect());
                word = rest;
            }
            let len = line.chars().count();
            if len > 0 && len + 1 + word.len() > WIDTH {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.extend(word);
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_sits_in_angle_brackets() {
        let expected = concat!(
            " _______\n",
            "< hello >\n",
            " -------\n",
            "        \\   ^__^\n",
            "         \\  (oo)\\_______\n",
            "            (__)\\       )\\/\\\n",
            "                ||----w |\n",
            "                ||     ||\n",
        );
        assert_eq!(cow("hello"), expected);
    }

    #[test]
    fn long_text_wraps_at_spaces_with_a_framed_balloon() {
        let text = "the quick brown fox jumps over the lazy dog and keeps on running far away";
        let out = cow(text);
        let balloon: Vec<&str> = out.lines().take(4).collect();
        assert_eq!(
            balloon,
            [
                " _________________________________________",
                "/ the quick brown fox jumps over the lazy \\",
                "\\ dog and keeps on running far away       /",
                " -----------------------------------------",
            ]
        );
        let three = wrap(&"x".repeat(85));
        assert_eq!(
            three.iter().map(String::len).collect::<Vec<_>>(),
            [40, 40, 5]
        );
        assert_eq!(wrap(""), [""]);
    }
}
