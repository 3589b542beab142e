//! Numeric CSV files as tensors: [`load`] (plain or gzip-compressed) and [`split_label`].
//!
//! The format read is the one data sets of numbers use: one sample per line, fields separated by
//! commas, every field a number (`f32` syntax: `3`, `-0.5`, `1e-3`, `nan`), surrounding spaces
//! ignored, blank lines skipped, `\n` or `\r\n` line ends. Quoted fields are not supported. A
//! malformed line is an error naming the file, the line number and what is wrong.
//!
//! ```
//! use ember::data::csv;
//! let table = csv::parse("a,b,label\n0.5,1,2\n1.5,2,0\n", true)?;
//! assert_eq!(table.shape(), &[2, 3]);
//! let (x, y) = csv::split_label(&table, -1)?;
//! assert_eq!(x.to_vec::<f32>(), vec![0.5, 1.0, 1.5, 2.0]);
//! assert_eq!(y.to_vec::<i64>(), vec![2, 0]);
//! # Ok::<(), ember::Error>(())
//! ```

use std::path::Path;

use ember_tensor::{DType, Error, Result, Tensor};

/// Reads a CSV file of numbers into an `F32` tensor of shape `[rows, columns]`; a file starting
/// with the gzip magic bytes (`.csv.gz`) is inflated first. With `has_header` the first line is
/// skipped. Errors name the path and, for a malformed line, its number (1-based, header included).
pub fn load(path: impl AsRef<Path>, has_header: bool) -> Result<Tensor> {
    let p = path.as_ref();
    let bytes = super::gzip::read_maybe_gz(p)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| Error::Parse(format!("{}: not UTF-8 text (at byte {})", p.display(), e.valid_up_to())))?;
    parse(text, has_header).map_err(|e| match e {
        Error::Parse(m) => Error::Parse(format!("{}: {m}", p.display())),
        other => other,
    })
}

/// Parses CSV text of numbers into an `F32` tensor `[rows, columns]`; see [`load`].
pub fn parse(text: &str, has_header: bool) -> Result<Tensor> {
    let mut values: Vec<f32> = Vec::new();
    let (rows, c) = rows(text, has_header, |line_no, j, _, f| {
        values.push(number(line_no, j, f)?);
        Ok(())
    })?;
    Tensor::try_from_vec(values, &[rows, c])
}

/// Reads a CSV file of numbers with an integer label column: features as an `F32` tensor
/// `[rows, columns - 1]`, labels as an `I64` tensor `[rows]` ([`split_label`] in one pass, but the
/// label text is read as an integer, so a label that is not a whole number or lies outside `i64`,
/// such as `1.5` or `1e20`, is an error naming the file, the line and the column).
pub fn load_labeled(path: impl AsRef<Path>, has_header: bool, label_column: isize) -> Result<(Tensor, Tensor)> {
    let p = path.as_ref();
    let bytes = super::gzip::read_maybe_gz(p)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| Error::Parse(format!("{}: not UTF-8 text (at byte {})", p.display(), e.valid_up_to())))?;
    parse_labeled(text, has_header, label_column).map_err(|e| match e {
        Error::Parse(m) => Error::Parse(format!("{}: {m}", p.display())),
        other => other,
    })
}

/// Parses CSV text with an integer label column; see [`load_labeled`].
pub fn parse_labeled(text: &str, has_header: bool, label_column: isize) -> Result<(Tensor, Tensor)> {
    let (mut features, mut labels) = (Vec::<f32>::new(), Vec::<i64>::new());
    let mut col: Option<usize> = None;
    let (rows, c) = rows(text, has_header, |line_no, j, width, f| {
        if j == 0 && col.is_none() {
            let w = width as isize;
            let k = if label_column < 0 { label_column + w } else { label_column };
            if k < 0 || k >= w {
                return Err(Error::Parse(format!(
                    "csv: line {line_no}: label column {label_column} is out of range for a row of {w} columns"
                )));
            }
            col = Some(k as usize);
        }
        if col == Some(j) {
            labels.push(integer(line_no, j, f)?);
        } else {
            features.push(number(line_no, j, f)?);
        }
        Ok(())
    })?;
    let n = labels.len();
    Ok((Tensor::try_from_vec(features, &[rows, c - 1])?, Tensor::try_from_vec(labels, &[n])?))
}

/// Field `j` (0-based) of line `line_no` as an `f32`.
fn number(line_no: usize, j: usize, f: &str) -> Result<f32> {
    f.parse()
        .map_err(|_| Error::Parse(format!("csv: line {line_no}, column {}: cannot parse {f:?} as a number", j + 1)))
}

/// Field `j` of line `line_no` as an integer: `i64` syntax, or a whole number in float syntax
/// (`3.0`, `1e3`) up to 2^53 in magnitude (beyond it a float does not hold every integer).
fn integer(line_no: usize, j: usize, f: &str) -> Result<i64> {
    if let Ok(v) = f.parse::<i64>() {
        return Ok(v);
    }
    let at = || format!("csv: line {line_no}, column {}", j + 1);
    let v: f64 = f.parse().map_err(|_| Error::Parse(format!("{}: cannot parse {f:?} as an integer label", at())))?;
    if !v.is_finite() || v.abs() > (1u64 << 53) as f64 {
        return Err(Error::Parse(format!(
            "{}: label {f:?} is out of range for an integer label (at most 2^53 in magnitude when written as a float, i64 otherwise)",
            at()
        )));
    }
    if v.fract() != 0.0 {
        return Err(Error::Parse(format!("{}: label {f:?} is not a whole number (a class index)", at())));
    }
    Ok(v as i64)
}

/// Walks the data rows of `text`, calling `field(line_no, column, fields in the row, text)` for
/// each field (1-based line, 0-based column); checks
/// that every row has the same number of fields. Returns `(rows, columns)`.
fn rows(
    text: &str,
    has_header: bool,
    mut field: impl FnMut(usize, usize, usize, &str) -> Result<()>,
) -> Result<(usize, usize)> {
    let mut cols: Option<(usize, usize)> = None; // (columns, line that fixed them)
    let mut rows = 0;
    let mut lines = text.lines().enumerate();
    if has_header {
        lines.next();
    }
    for (i, line) in lines {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let n = line.split(',').count();
        match cols {
            None => cols = Some((n, line_no)),
            Some((c, first)) if c != n => {
                return Err(Error::Parse(format!(
                    "csv: line {line_no} has {n} fields, but line {first} has {c}: every row needs the same number of columns"
                )));
            }
            _ => {}
        }
        for (j, f) in line.split(',').enumerate() {
            field(line_no, j, n, f.trim())?;
        }
        rows += 1;
    }
    let Some((c, _)) = cols else {
        return Err(Error::Parse("csv: no data rows".into()));
    };
    Ok((rows, c))
}

/// Splits a table `[rows, columns]` into features (every column but `label_column`, as `F32`
/// `[rows, columns - 1]`) and labels (that column as `I64` class indices `[rows]`). `label_column`
/// may be negative (`-1`: the last column). Fails when the column is out of range or a label is not
/// a whole number within 2^24 in magnitude (the integers an `F32` table holds exactly: `1e20` is an
/// error, not `i64::MAX`). To name the file, line and column of a bad label, use [`load_labeled`].
pub fn split_label(table: &Tensor, label_column: isize) -> Result<(Tensor, Tensor)> {
    let op = "csv::split_label";
    if table.rank() != 2 {
        return Err(Error::InvalidArgument {
            op,
            msg: format!("expected a table [rows, columns], got shape {:?}", table.shape()),
        });
    }
    let c = table.shape()[1];
    let col = if label_column < 0 { label_column + c as isize } else { label_column };
    if col < 0 || col >= c as isize {
        return Err(Error::InvalidArgument {
            op,
            msg: format!("label column {label_column} is out of range for a table of {c} columns"),
        });
    }
    let col = col as usize;
    let labels = table.select(1, col as i64);
    // Beyond 2^24 an F32 table no longer holds every integer: such a label is already rounded.
    let exact = f64::from(1u32 << 24);
    for (row, v) in labels.to_vec::<f64>().iter().enumerate() {
        if !v.is_finite() || v.abs() > exact {
            return Err(Error::InvalidArgument {
                op,
                msg: format!(
                    "row {row}: label {v:e} in column {col} is out of range for a class index (at most 2^24 = 16777216 in magnitude in an F32 table)"
                ),
            });
        }
        if v.fract() != 0.0 {
            return Err(Error::InvalidArgument {
                op,
                msg: format!("row {row}: label {v} in column {col} is not a whole number (a class index)"),
            });
        }
    }
    let keep: Vec<i64> = (0..c as i64).filter(|&j| j != col as i64).collect();
    let features = table.index_select(1, &Tensor::from_vec(keep, &[c - 1])).to_dtype(DType::F32);
    Ok((features, labels.to_dtype(DType::I64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spaces_blank_lines_and_crlf() {
        let t = parse(" 1, 2 ,3\r\n\n4,5e-1,-6\r\n   \n", false).unwrap();
        assert_eq!(t.shape(), &[2, 3]);
        assert_eq!(t.to_vec::<f32>(), vec![1.0, 2.0, 3.0, 4.0, 0.5, -6.0]);
        let (x, y) = split_label(&t, 0).unwrap();
        assert_eq!((x.to_vec::<f32>(), y.to_vec::<i64>()), (vec![2.0, 3.0, 0.5, -6.0], vec![1, 4]));
    }

    #[test]
    fn malformed_rows_name_the_line() {
        let e = parse("h1,h2\n1,2\n3\n", true).unwrap_err().to_string();
        assert!(e.contains("line 3 has 1 fields") && e.contains("line 2 has 2"), "{e}");
        let e = parse("1,2\n3,x4\n", false).unwrap_err().to_string();
        assert!(e.contains("line 2, column 2") && e.contains("\"x4\""), "{e}");
        let e = parse("1,,2\n", false).unwrap_err().to_string();
        assert!(e.contains("line 1, column 2"), "{e}");
        let e = parse("only,a,header\n", true).unwrap_err().to_string();
        assert!(e.contains("no data rows"), "{e}");
    }

    #[test]
    fn bad_label_columns() {
        let t = parse("1,2.5\n3,4\n", false).unwrap();
        let e = split_label(&t, 1).unwrap_err().to_string();
        assert!(e.contains("row 0") && e.contains("2.5"), "{e}");
        let e = split_label(&t, 2).unwrap_err().to_string();
        assert!(e.contains("label column 2") && e.contains("2 columns"), "{e}");
        assert!(split_label(&t, -3).is_err());
        assert!(split_label(&Tensor::ones(&[3]), 0).unwrap_err().to_string().contains("[3]"));
    }

    #[test]
    fn load_names_the_path() {
        let dir = std::env::temp_dir().join(format!("ember-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("bad.csv");
        std::fs::write(&p, "1,2\n3\n").unwrap();
        let e = load(&p, false).unwrap_err().to_string();
        assert!(e.contains("bad.csv") && e.contains("line 2"), "{e}");
        let e = load(dir.join("missing.csv"), false).unwrap_err().to_string();
        assert!(e.contains("missing.csv"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn integer_labels_are_range_checked() {
        // Through the F32 table: 1e20 no longer saturates to i64::MAX.
        for bad in ["1e20", "-1e20", "16777218", "inf"] {
            let t = parse(&format!("0.5,{bad}\n"), false).unwrap();
            let e = split_label(&t, -1).unwrap_err().to_string();
            assert!(e.contains("row 0") && e.contains("out of range"), "{bad}: {e}");
        }
        // Read as integers: the error names the line and column.
        let cases = [
            ("1e20", "out of range"),
            ("-1e20", "out of range"),
            ("9007199254740994.0", "out of range"),
            ("1.5", "not a whole number"),
            ("nan", "out of range"),
            ("x", "cannot parse \"x\" as an integer label"),
        ];
        for (bad, want) in cases {
            let text = format!("f,label\n0.5,1\n\n0.25,{bad}\n");
            let e = parse_labeled(&text, true, -1).unwrap_err().to_string();
            assert!(e.contains("line 4, column 2") && e.contains(want), "{bad}: {e}");
        }
        let (x, y) = parse_labeled("7,0.5,1\n-3,1.5,2\n9223372036854775807,2,3e3\n", false, 0).unwrap();
        assert_eq!(y.to_vec::<i64>(), vec![7, -3, i64::MAX]);
        assert_eq!(x.shape(), &[3, 2]);
        assert_eq!(x.to_vec::<f32>(), vec![0.5, 1.0, 1.5, 2.0, 2.0, 3000.0]);
        let e = parse_labeled("1,2\n", false, 2).unwrap_err().to_string();
        assert!(e.contains("label column 2 is out of range for a row of 2 columns"), "{e}");
    }

    #[test]
    fn load_labeled_names_the_file_line_and_column() {
        let dir = std::env::temp_dir().join(format!("ember-csv-labeled-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("labels.csv");
        std::fs::write(&p, "1,0\n2,1e20\n").unwrap();
        let e = load_labeled(&p, false, 1).unwrap_err().to_string();
        assert!(e.contains("labels.csv") && e.contains("line 2, column 2") && e.contains("1e20"), "{e}");
        std::fs::write(&p, "1,0\n2,1\n").unwrap();
        let (x, y) = load_labeled(&p, false, 1).unwrap();
        assert_eq!((x.to_vec::<f32>(), y.to_vec::<i64>()), (vec![1.0, 2.0], vec![0, 1]));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
