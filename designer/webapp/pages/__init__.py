"""The app's pages. Each module is a Streamlit page script (run by st.navigation from designer/app.py): its body
is a `render()` function, called under `if __name__ == "__main__":` (Streamlit runs page scripts as __main__), so
importing a page module has no effect.
"""
