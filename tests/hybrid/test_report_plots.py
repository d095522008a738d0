"""The report's plots with more data sets than one row of panels holds."""


def test_the_accuracy_plot_takes_more_data_sets_than_a_row_of_panels(tmp_path):
    from qhybrid.hybrid import report_plots

    rows = [
        {
            "dataset": f"d{i}",
            "model": "svc",
            "platform": "cpu",
            "family": "classical",
            "fit_seconds_mean": 0.1,
            "fit_seconds_std": 0.0,
            "test_accuracy_mean": 0.9,
            "test_accuracy_std": 0.0,
        }
        for i in range(4)  # 4 panels on a 2 x 3 grid: two stay empty
    ]
    report_plots.plot_accuracy_vs_time(rows, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 0
