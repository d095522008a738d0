"""One renderer for qhybrid's tables: the terminal and Markdown share columns and alignment."""

import pytest

from qhybrid._tables import render_table

HEADERS = ["model", "params", "acc"]
ROWS = [["mlp", "1,234", "0.700 ± 0.200"], ["dressed | q", "56", "n/a"]]


def test_text_table_right_aligns_numeric_columns():
    assert render_table(HEADERS, ROWS, numeric={"params", "acc"}).splitlines() == [
        "model          params            acc",
        "-----------  --------  -------------",
        "mlp             1,234  0.700 ± 0.200",
        "dressed | q        56            n/a",
    ]


def test_markdown_table_has_the_same_columns_with_alignment_marks():
    assert render_table(HEADERS, ROWS, numeric={"params", "acc"}, style="markdown").splitlines() == [
        "| model        |   params |           acc |",
        "|:-------------|---------:|--------------:|",
        "| mlp          |    1,234 | 0.700 ± 0.200 |",
        "| dressed \\| q |       56 |           n/a |",
    ]


def test_cells_are_kept_as_written_and_none_is_empty():
    # no number parsing: "1e3" and "007" are not reformatted; no trailing spaces after a short last cell
    lines = render_table(["a", "note"], [["1e3", None], ["007", "x"]], numeric={"a"}).splitlines()
    assert lines == ["  a  note", "---  ------", "1e3", "007  x"]


def test_empty_table_is_header_and_rule():
    assert render_table(["a", "b"], []) == "a    b\n---  ---"


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"style": "html"}, r"table style must be one of \['markdown', 'text'\], got 'html'"),
        ({"numeric": {"size"}}, r"numeric columns \['size'\] are not among the headers"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        render_table(HEADERS, ROWS, **kwargs)


def test_row_of_the_wrong_length():
    with pytest.raises(ValueError, match="row 1 has 2 cells for 3 columns"):
        render_table(HEADERS, [ROWS[0], ["x", "1"]])


def test_report_and_compression_tables_use_it():
    from qhybrid.classical.compression import format_table as compression_table
    from qhybrid.hybrid.report import format_table as report_table

    row = {"dataset": "d", "model": "m", "platform": "cpu", "n_seeds": 1, "test_accuracy_mean": 0.9}
    text = report_table([row]).splitlines()
    assert text[0].startswith("data set    model    platform      seeds    test acc    train acc")
    assert text[2].startswith("d           m        cpu               1       0.900          n/a")
    md = report_table([row], style="markdown").splitlines()
    assert md[1].startswith("|:-----------|:--------|:-----------|--------:|-----------:|")
    assert md[2].startswith("| d          | m       | cpu        |       1 |      0.900 |")

    rec = {
        "model": "int8",
        "params": 12345,
        "size_bytes": 2048,
        "size_ratio": 0.25,
        "latency_ms": 0.1234,
        "speedup": 2.0,
        "accuracy": 0.95,
        "acc_delta": -0.001,
    }
    assert compression_table([rec]).splitlines()[2] == (
        "int8       12,345         2.0      0.25         0.123       2.00      0.9500  -0.0010"
    )


def test_solve_table_prints_title_and_right_aligned_numbers(capsys):
    from qhybrid.hybrid.solve_cmd import print_table

    rows = [
        {"method": "QAOA", "value": 3.5, "quality": 0.875, "evaluations": 40, "time_s": 0.25, "note": "p=1"},
        {
            "method": "brute force",
            "value": 4.0,
            "quality": 1.0,
            "evaluations": None,
            "time_s": 0.001,
            "note": "",
        },
    ]
    print_table("maxcut: ring", "ratio", rows)
    assert capsys.readouterr().out.splitlines() == [
        "maxcut: ring",
        "method          value    ratio    evaluations    time (s)  note",
        "-----------  --------  -------  -------------  ----------  ------",
        "QAOA         3.500000   0.8750             40       0.250  p=1",
        "brute force  4.000000   1.0000              -       0.001",
    ]
