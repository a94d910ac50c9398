// placeholder: replaced by the sign-in page
