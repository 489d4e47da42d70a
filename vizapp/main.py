"""Streamlit entry point: ``streamlit run vizapp/main.py``."""

import streamlit as st

st.set_page_config(page_title="vizapp — CNN architecture lab", page_icon="🧱", layout="wide")
st.title("vizapp — CNN architecture lab")
