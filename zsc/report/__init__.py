"""The book: what a chapter starts from (`chapter`), its figures (`figures`), the sentences about
a build (`prose`) and the build from results to site (`build`). Import the submodule you need;
this file imports nothing. Executing one chapter is `zsc.notebooks`, below both the batch runner
and the build, which call it; a profile's results are read by `zsc.profile_results`."""
