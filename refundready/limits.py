"""Size limits more than one layer reads (the request body limit at the bottom, the forms and API above)."""

# Claim details and refund reports are small CSVs; a few MB is generous (settings.MAX_UPLOAD_SIZE caps it further).
# cape.forms and cape.api import it (and tests lower it there); refundready.bodylimit reads it from here.
REPORT_MAX_BYTES = 20 * 1024 * 1024
