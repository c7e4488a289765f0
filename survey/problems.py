"""The web layer's problem codes: refused service actions (reviews, the console, accounts, API
tokens, public links, webhooks, publishing, imports, the JSON API), registered in the one problem registry
(:mod:`questionnaires.problems`) beside the loaders' codes.

Services raise a :class:`~questionnaires.problems.ProblemError` subclass with one of these codes
and its parameters; the page, the CLI or the API renders it in the reader's language
(:func:`survey.i18n.translator`). The English text is the msgid, the Vietnamese is in
``messages.po``. Codes never change: add one, never rename or reuse.
"""

from __future__ import annotations

from questionnaires.problems import N_, register

register([
    # integrity reviews (survey.services.integrity, review)
    ("REVIEW-RESPONSE-UNKNOWN", N_("No response {response} in this campaign.")),
    ("REVIEW-DECISION", N_("Choose accept or exclude.")),
    ("REVIEW-REASON", N_("Give a reason (at least 5 characters).")),
    ("REVIEW-UNIT-UNKNOWN", N_("No unit with code '{unit}'.")),
    ("REVIEW-ANNULLED", N_("This unit's result is already annulled.")),
    ("REVIEW-NOT-ANNULLED", N_("This unit's result is not annulled.")),
    ("REVIEW-FORMAT", N_("Unsupported format: {format}.")),
    # the campaign console (survey.services.console)
    ("CONSOLE-LIST-FILE", N_("Only .csv or .xlsx files are accepted.")),
    ("CONSOLE-DEADLINE", N_("The new deadline must be after opening.")),
    ("CONSOLE-REASON", N_("A reason is required.")),
    ("CONSOLE-FORM-UNKNOWN", N_("No submitted form has this id.")),
    ("CONSOLE-CONFIG-FILE", N_("Only .yaml files are accepted.")),
    # staff accounts (survey.services.staff, api_tokens)
    ("STAFF-EMAIL", N_("The email address is not valid.")),
    ("STAFF-PASSWORD", N_("The password needs at least {length} characters.")),
    ("STAFF-PROVINCES", N_("At least one province is needed.")),
    ("STAFF-AGENCY", N_("A focal point needs an agency code.")),
    ("STAFF-EXISTS", N_("Account {email} already exists.")),
    ("STAFF-NOT-ACTIVE", N_("No active account {email}.")),
    ("STAFF-UNKNOWN", N_("No account {email}.")),
    ("STAFF-DISABLED", N_("Account {email} is disabled.")),
    # API tokens (survey.services.api_tokens)
    ("TOKEN-NAME", N_("Name the token (1 to 100 characters).")),
    ("TOKEN-EXPIRY", N_("Expiry days must be between 1 and {max_days}.")),
    ("TOKEN-CHOOSE", N_("Choose the token by id or name.")),
    ("TOKEN-UNKNOWN", N_("No such live token.")),
    # public QR links (survey.services.public)
    ("PUBLIC-GROUP-UNKNOWN", N_("Campaign {campaign} has no respondent group '{group}'.")),
    ("PUBLIC-UNIT-UNKNOWN", N_("Campaign {campaign} has no unit: {units}.")),
    ("PUBLIC-DAILY-CAP", N_("The daily cap must be 0 or more.")),
    ("PUBLIC-UNIT-NOT-RATED",
     N_("Group '{group}' of campaign {campaign} does not rate unit(s) {units} (no quota cell).")),
    ("PUBLIC-GROUP-NO-CELLS", N_("Group '{group}' of campaign {campaign} has no quota cells.")),
    # the privacy purge (survey.services.privacy)
    ("PRIVACY-NOT-DUE", N_("Not due before {due}.")),
    # campaigns (survey.services.campaigns)
    ("CAMPAIGN-UNKNOWN", N_("No campaign with code '{code}'.")),
    ("CAMPAIGN-ID-UNKNOWN", N_("No campaign with id {id}.")),
    ("CAMPAIGN-PROVINCE", N_("Province {province} is outside this account's provinces.")),
    # webhooks (survey.services.webhooks)
    ("WEBHOOK-URL", N_("A webhook address must be https://: {url}.")),
    ("WEBHOOK-EVENTS", N_("Unknown events: {events}; choose from {known}.")),
    ("WEBHOOK-UNKNOWN", N_("No webhook {endpoint} in this campaign.")),
    ("WEBHOOK-DELIVERY-UNKNOWN", N_("No finished or dead delivery {delivery} to replay.")),
    # publishing questionnaires (survey.services.questionnaires)
    ("PUBLISH-CONFLICT",
     N_("{key} is already published with content hash {stored}; this definition has {hash}. "
        "Publish it as version {next} instead.")),
    ("PUBLISH-SAME", N_("{key} is already published with exactly this content.")),
    ("PUBLISH-CHANGED",
     N_("{key} is already published with other content; a published version never changes. Set "
        "version = {next} on the settings sheet and upload again.")),
    # list import jobs (survey.services.import_jobs)
    ("LIST-FILE-TYPE", N_("The file {name} is not CSV or XLSX.")),
    ("LIST-FILE-EMPTY", N_("The file {name} is empty.")),
    ("LIST-IMPORT-FAILED", N_("The import failed with a server error; nothing imported.")),
    # the JSON API's problem titles (survey.api) and their details
    ("API-TOKEN-MISSING", N_("An API token is required (Authorization: Bearer ...).")),
    ("API-TOKEN-INVALID", N_("The API token is unknown, revoked or expired.")),
    ("API-FORBIDDEN", N_("The account's role may not do this.")),
    ("API-NOT-FOUND", N_("Not found.")),
    ("API-METHOD", N_("Method not allowed.")),
    ("API-RATE-LIMITED", N_("Too many requests with this token; try again later.")),
    ("API-BAD-PARAMETER", N_("A parameter is not valid.")),
    ("API-BAD-CURSOR", N_("The page cursor is not valid for this query.")),
    ("API-TOO-LARGE", N_("The file is too large.")),
    ("API-SERVER-ERROR", N_("Server error.")),
    ("API-SINCE", N_("since must be a date YYYY-MM-DD: {value}.")),
    ("API-LIMIT", N_("limit must be between 1 and {max}.")),
    ("API-FORMAT", N_("format must be ndjson or csv.")),
    ("API-FILE", N_("Send the list in the form field 'file'.")),
    ("SCORING-CONFIG-INVALID", N_("The campaign's scoring section is invalid.")),
    ("SCORING-NO-ITEMS", N_("The campaign's questionnaires have no scored questions.")),
    # the design and the stored answers scores read (survey.services.scores)
    ("SCORING-DESIGN-POPULATION",
     N_("The population is smaller than the responses in strata (group|unit: N < n) {strata}."),
     N_("Correct N of these strata in the design's population file: it counts the people the "
        "stratum's responses come from.")),
    ("SCORING-DESIGN",
     N_("The design cannot be built: {reason}"),
     N_("A stratum with a single response needs a design.lonely_psu rule other than fail "
        "(adjust, certainty, average or remove).")),
    ("SCORING-CODES-MISMATCH",
     N_("{key}: the stored item codes do not have {width} bytes per response ({detail})."),
     N_("The stored answers do not fit their questionnaire version: the database was changed "
        "outside the application. Restore it from a backup.")),
    # appraised points files (survey.services.scores)
    ("APPRAISED-XLSX", N_("Cannot read the XLSX file.")),
    ("APPRAISED-UTF8", N_("The CSV file must be UTF-8.")),
    ("APPRAISED-FILE-TYPE", N_("Only .csv or .xlsx files are accepted.")),
    ("APPRAISED-EMPTY", N_("The file is empty.")),
    ("APPRAISED-COLUMN", N_("Missing column.")),
    ("APPRAISED-UNIT-MISSING", N_("Missing unit code.")),
    ("APPRAISED-UNIT-UNKNOWN", N_("Unit {unit} is not a unit of the campaign.")),
    ("APPRAISED-UNIT-REPEATED", N_("Unit {unit} repeats row {first}.")),
    ("APPRAISED-MAX", N_("Must be a number > 0.")),
    ("APPRAISED-POINTS", N_("Must be a number.")),
    ("APPRAISED-RANGE", N_("Must lie between 0 and the max points.")),
    ("APPRAISED-NO-ROWS", N_("The file has no data rows.")),
    ("APPRAISED-UNIT-NO-POINTS", N_("Unit {unit} has survey responses but no appraised points.")),
    ("APPRAISED-MAX-VARIES", N_("Max points must be the same on every row.")),
    ("APPRAISED-MAX-CONFIG", N_("Differs from the scoring section's appraised maximum ({max}).")),
    ("APPRAISED-REFUSED", N_("The appraised points file was refused, no row was used: {file}")),
    # printing (survey.services.cards) and mail (survey.services.mail, outbox)
    ("PDF-FONT-MISSING", N_("The PDF font {fonts} is not in {directory}."),
     N_("Install the Debian package {package} (apt-get install -y {package}) or set PAR_SURVEY_FONT_DIR.")),
    ("MAIL-SMTP-URL", N_("PAR_SURVEY_SMTP_URL must be smtp://[user:pass@]host[:port][?starttls=1] or "
                         "smtps://...")),
    ("MAIL-NOT-CONFIGURED", N_("No mail server is set."),
     N_("Set PAR_SURVEY_SMTP_URL and PAR_SURVEY_MAIL_FROM.")),
    ("MAIL-SENDER-REFUSED", N_("The mail server refuses our sender {sender}: {detail}"),
     N_("Set PAR_SURVEY_MAIL_FROM to an address the server accepts.")),
    ("OUTBOX-NOT-UNCERTAIN", N_("Outbox message {id} is not uncertain: there is nothing to settle.")),
])

#: a parameter text: no events named
NO_EVENTS = N_("(none)")
