"""The package version, in a module of its own so that stages can read it without importing the
package root (which would make every stage a neighbour of every other in the import graph)."""

__version__ = "0.1.0"
