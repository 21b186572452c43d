"""The pandas code the offline model writes for a data question, from templates.

Each program states the question in a few assignments at its top (the file, what to compute, over
which column, by what) and answers it with a fixed body, so it reads the same for every question.
It needs no knowledge of the file's columns: it finds them when it runs, from the header, whatever
their case, spaces or underscores ("Revenue", "total_revenue"), then by a few synonyms ("sales"
finds a revenue or amount column), and for a period ("per month") by a column of dates. It prints
its figures one a line, `label: value`, under a title line ending with a colon: what the model's
answer quotes (offline_model.analysis). What it cannot find, it says on a line starting "Could not".
"""

from __future__ import annotations

from dataclasses import dataclass

DATA = "/mnt/data"
# What a group word means when no column is named so: a period of a column of dates.
PERIODS = {"day": "D", "date": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}
# Words for a measure that a differently named column may hold.
SYNONYMS = {
    "sales": ("revenue", "amount", "total"),
    "revenue": ("sales", "amount", "total"),
    "amount": ("total", "revenue", "sales", "value"),
    "spend": ("cost", "amount"),
    "price": ("amount", "value"),
    "units": ("quantity", "qty"),
    "quantity": ("qty", "units"),
}
HOWS = ("sum", "mean", "max", "min", "count")
LEADS = {"sum": "total", "mean": "average", "max": "highest", "min": "lowest", "count": "number of rows"}


@dataclass(frozen=True)
class DataRequest:
    """A question about one file: describe it, or aggregate a measure (by a group), maybe plotted."""

    kind: str  # "describe" or "aggregate"
    file: str  # the file's name in /mnt/data
    how: str = "sum"  # one of HOWS
    measure: str | None = None  # the words naming the measure (None: count the rows)
    group: str | None = None  # the words naming the group (None: one figure for the whole file)
    plot: bool = False
    # The question named no computation ("plot conversations per day"): if no column is named like the
    # measure, the rows are counted.
    count_if_missing: bool = False

    @property
    def title(self) -> str:
        """What the figures are, in the request's words ("total revenue by region")."""
        if self.kind == "describe":
            return f"a description of {self.file}"
        what = LEADS["count" if self.measure is None else self.how]
        what = f"{what} {self.measure}" if self.measure else what
        return f"{what} {'per' if self.group in PERIODS else 'by'} {self.group}" if self.group else what


def code_for(request: DataRequest) -> str:
    """The Python that answers `request`."""
    head = ["import pandas as pd", "", f"source = {request.file!r}", f"frame = {_reader(request.file)}"]
    if request.kind == "describe":
        return "\n".join([*head, "", _DESCRIBE])
    measure = measure_words(request.measure) if request.measure else []
    question = [
        f"how = {request.how if request.measure else 'count'!r}  # sum, mean, max, min or count (of rows)",
        f"measure = {measure!r}  # words for the column to compute on, best first",
        f"group = {request.group!r}  # the column to group by (None: the whole file)",
        f"period = {PERIODS.get(request.group or '')!r}  # if no column is named so: dates, by this period",
        f"count_if_missing = {request.count_if_missing!r}  # no column named like the measure: count the rows",
        f"plot = {request.plot!r}",
    ]
    return "\n".join([*head, *question, "", "", _FINDING, "", _AGGREGATE])


def measure_words(measure: str) -> list[str]:
    """The measure's words, then its last word's (the noun's: "monthly sales" → sales) synonyms."""
    words = [measure, *reversed(measure.split())]
    for word in reversed(measure.split()):
        words += SYNONYMS.get(word, ())
    return list(dict.fromkeys(words))


def _reader(name: str) -> str:
    path = f"{DATA}/{name}"
    extension = name.rpartition(".")[2].lower()
    if extension in ("xlsx", "xlsm"):
        return f"pd.read_excel({path!r})"
    if extension == "json":
        return f"pd.read_json({path!r})"
    return f"pd.read_csv({path!r}, sep=None, engine='python')  # commas, semicolons or tabs"


_DESCRIBE = """print(f"{source}: {len(frame)} rows, {len(frame.columns)} columns:")
for name in frame.columns:
    values = frame[name]
    missing = int(values.isna().sum())
    gaps = f", {missing} missing" if missing else ""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        print(
            f"{name}: numbers from {values.min():,.2f} to {values.max():,.2f}, "
            f"average {values.mean():,.2f}, total {values.sum():,.2f}{gaps}"
        )
    else:
        common = values.mode()
        top = f", most often {common.iloc[0]}" if len(common) else ""
        print(f"{name}: {values.nunique()} different values{top}{gaps}")
"""

_FINDING = '''def column(*words):
    """The first column named like one of `words`, whatever its case, spaces or underscores."""
    names = {name: "".join(c for c in str(name).lower() if c.isalnum()) for name in frame.columns}
    for word in words:
        key = "".join(c for c in word.lower() if c.isalnum())
        for name, normal in names.items():
            if normal == key or normal.rstrip("s") == key.rstrip("s"):
                return name
        for name, normal in names.items():
            if len(key) >= 3 and key in normal:
                return name
    return None


def numbers(name):
    """A column as numbers ("$1,200.50" reads 1200.5; what is no number is left out)."""
    values = frame[name]
    if pd.api.types.is_numeric_dtype(values):
        return values
    cleaned = values.astype(str).str.replace(r"[^0-9.eE+-]", "", regex=True)
    return pd.to_numeric(cleaned, errors="coerce")


def dates():
    """The first column of dates (those named like a date tried first), parsed; or (None, None)."""
    hinted = [n for n in frame.columns if any(w in str(n).lower() for w in ("date", "time", "day", "created"))]
    for name in hinted + [n for n in frame.columns if n not in hinted]:
        if not pd.api.types.is_numeric_dtype(frame[name]):
            parsed = pd.to_datetime(frame[name], errors="coerce", format="mixed")
            if parsed.notna().mean() >= 0.8:
                return name, parsed
    return None, None
'''

_AGGREGATE = """value = column(*measure) if measure else None
if measure and value is None and count_if_missing:
    measure, how = [], "count"
by, keys, in_time = None, None, False
if group:
    by = column(group)
    if by is not None:
        keys, in_time = frame[by], period is not None
    elif period:
        found, parsed = dates()
        if found is not None:
            by, keys, in_time = group, parsed.dt.to_period(period).astype(str), True

columns = ", ".join(map(str, frame.columns))
if measure and value is None:
    print(f"Could not find a column for {measure[0]} in {source}; its columns are: {columns}.")
elif group and keys is None:
    print(f"Could not find a column for {group} in {source}; its columns are: {columns}.")
else:
    lead = {"sum": "Total", "mean": "Average", "max": "Highest", "min": "Lowest", "count": "Number of rows"}[how]
    title = f"{lead} {value}" if value is not None else lead
    shown = "{:,.0f}" if how == "count" else "{:,.2f}"
    if keys is None:
        result = len(frame) if how == "count" else getattr(numbers(value), how)()
        print(f"{title} ({source}, {len(frame)} rows):")
        print(f"All: {shown.format(result)}")
    else:
        title = f"{title} by {by}"
        if how == "count":
            result = frame.groupby(keys).size()
        else:
            result = getattr(numbers(value).groupby(keys), how)()
        result = result.sort_index() if in_time else result.sort_values(ascending=False)
        print(f"{title} ({source}, {len(frame)} rows):")
        for key, amount in result.items():
            print(f"{key}: {shown.format(amount)}")
        if how in ("sum", "count"):
            print(f"All: {shown.format(result.sum())}")
        if plot:
            import matplotlib.pyplot as plt

            options = {"kind": "line", "marker": "o"} if in_time else {"kind": "bar"}
            axes = result.plot(title=title, figsize=(8, 4.5), **options)
            axes.set_xlabel(str(by))
            axes.set_ylabel(lead if value is None else str(value))
            plt.tight_layout()
            plt.show()
            stem = "_".join("".join(c if c.isalnum() else " " for c in title.lower()).split())
            table = f"/mnt/data/{stem}.csv"
            result.rename(title).to_csv(table)
            print(f"The figures are also in {table}.")
"""
