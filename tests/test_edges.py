"""Rough edges of the command line: each failure says what would help, each count says what it
counts (issue 32, item 5)."""

from mlimpact.cli import main


def test_hardware_without_a_match_fails_with_one_line(capsys):
    assert main(["hardware", "zzz"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    unknown = "hardware: unknown hardware 'zzz' (see `mlimpact hardware` for the list)"
    assert err == f"mlimpact: error: {unknown}\n"


def test_hardware_falls_back_to_the_lookup_rule_of_setup_files(capsys):
    # no name contains "h100-sxm", but the setup files' rule (punctuation ignored) finds it
    assert main(["hardware", "h100-sxm"]) == 0
    assert "NVIDIA H100 SXM5 80GB" in capsys.readouterr().out


def test_too_few_models_names_only_options_that_let_more_in(capsys):
    assert main(["run", "--first-year", "2013", "--last-year", "2013", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "a wider --first-year/--last-year" in err
    # options that are not set cannot be dropped
    assert "--complete-only" not in err and "--exclude-speculative" not in err
    args = ["--first-year", "2025", "--last-year", "2025", "--complete-only"]
    assert main(["run", *args, "--exclude-speculative", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no --complete-only; no --exclude-speculative" in err


def test_too_few_runs_in_a_models_file_points_to_a_bigger_file(capsys, repo_root):
    inventory = str(repo_root / "examples" / "inventory_made_up.csv")
    assert main(["sensitivity", "--models", inventory, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--first-year" not in err
    assert "the models file holds no more: give --models FILE with more runs" in err


def test_the_cards_count_says_why_run_prices_fewer(tmp_path, capsys):
    from mlimpact.study.cards import mlca_only

    only = mlca_only()
    assert only and all("ACT needs" in reason for _, reason in only)
    out = tmp_path / "cards"
    assert main(["cards", "--samples", "16", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    counts = printed.splitlines()[0]
    # one count per production model, the mixture (run's) fewer than MLCA by ACT's gaps
    mlca = int(counts.split(" with mlca")[0].split()[-1])
    mixture = int(counts.split(" with mixture")[0].split()[-1])
    assert mlca - mixture == len(only)
    assert f"the {len(only)} card(s) ACT cannot price ({only[0][0]}" in printed
