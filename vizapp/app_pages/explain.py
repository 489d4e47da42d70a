"""The Inside-a-layer page (its body lives in components/; this file gives it a URL and an AppTest path)."""

from components.pages import run

run("explain")
