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
        let before = values.len();
        for (j, field) in line.split(',').enumerate() {
            let f = field.trim();
            let v: f32 = f.parse().map_err(|_| {
                Error::Parse(format!("csv: line {line_no}, column {}: cannot parse {f:?} as a number", j + 1))
            })?;
            values.push(v);
        }
        let n = values.len() - before;
        match cols {
            None => cols = Some((n, line_no)),
            Some((c, first)) if c != n => {
                return Err(Error::Parse(format!(
                    "csv: line {line_no} has {n} fields, but line {first} has {c}: every row needs the same number of columns"
                )));
            }
            _ => {}
        }
        rows += 1;
    }
    let Some((c, _)) = cols else {
        return Err(Error::Parse("csv: no data rows".into()));
    };
    Tensor::try_from_vec(values, &[rows, c])
}

/// Splits a table `[rows, columns]` into features (every column but `label_column`, as `F32`
/// `[rows, columns - 1]`) and labels (that column as `I64` class indices `[rows]`). `label_column`
/// may be negative (`-1`: the last column). Fails when the column is out of range or a label is not
/// a whole number.
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
    for (row, v) in labels.to_vec::<f64>().iter().enumerate() {
        if v.fract() != 0.0 || !v.is_finite() {
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
}
