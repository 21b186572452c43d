"""The supervisor's Analyst: questions about the shop's own support data, answered by the runtime's
code_interpreter over CSV exports of that data, with charts.

    exports   the CSV files (read-only queries; counts and times, no customer text or contact details)
    threads   which threads are analyst threads (kept out of the agents' queue and conversations)
    services  asking: export into knowledge files, the supervisor's analyst thread, a run
    answers   reading the answers back: text, the code that ran, its charts; who may see a chart
"""
