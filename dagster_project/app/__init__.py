"""The customer 360 web app (Streamlit): search a customer, see everything we know at once."""
