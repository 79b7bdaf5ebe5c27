"""The book: chapter execution (`notebooks`), what a chapter starts from (`chapter`), and the
build from results to site (`build`). Import the submodule you need; this file imports nothing,
so the batch runner can use `report.notebooks` without pulling in the build."""
