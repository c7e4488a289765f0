"""Stable problem codes of the sampling package: campaign files, unit tables, respondent lists,
draws and crosswalks.

Every problem a user can act on is a :class:`questionnaires.problems.Problem` with a code
registered here. Codes are part of the public contract (the web layer, tests and user
documentation refer to them), so a code is never renamed or reused; add a new one instead.
Messages and fixes are English ``str.format`` templates (the catalog msgids, translated to
Vietnamese in ``messages.po``) with named placeholders; a parameter that itself needs
translating is a :class:`~questionnaires.problems.Text` (the rule of a ``CFG-INTEGRITY``,
``CFG-DESIGN`` or ``CFG-SCORING`` problem, which the section's parser writes).
"""

from __future__ import annotations

from typing import Any, Final

from questionnaires.problems import N_, Location, Problem, ProblemError, register

_SPECS: Final = (
    # -- campaign configuration --------------------------------------------------------
    ("CFG-FILE-READ",
     N_("Cannot read the configuration file: {detail}."),
     N_("Check the path and save the file as UTF-8 text.")),
    ("CFG-YAML-SYNTAX",
     N_("Invalid YAML syntax: {detail}."),
     N_("Fix the line shown: indent with spaces (not tabs), put ':' after each key, quote strings "
        "that contain special characters.")),
    ("CFG-YAML-TOO-LARGE",
     N_("The YAML file is too large ({detail}; at most {limit} bytes)."),
     N_("Move the unit list to its own file (units_file) or drop what is not used.")),
    ("CFG-YAML-TOO-DEEP",
     N_("The YAML file nests too deeply (more than {limit} levels)."),
     N_("A configuration file needs only a few levels; check brackets and indentation.")),
    ("CFG-YAML-ALIASES",
     N_("The YAML aliases (*alias) expand to more than {limit} nodes."),
     N_("Write the content out instead of nesting &anchors and *aliases.")),
    ("CFG-VERSION",
     N_("Format version '{value}' is not supported."),
     N_("Set 'version: {expected}'.")),
    ("CFG-KEY-MISSING",
     N_("Required key '{key}' is missing."),
     N_("Add the key '{key}' to this section.")),
    ("CFG-KEY-UNKNOWN",
     N_("Key '{key}' is not allowed here. Allowed keys: {allowed}."),
     N_("Fix the spelling or remove the key.")),
    ("CFG-KEY-DUPLICATE",
     N_("Key '{key}' appears twice in the same section (first on line {first_line})."),
     N_("Keep one of the two entries and delete the other.")),
    ("CFG-TYPE",
     N_("The value must be {expected}, got {actual}."),
     N_("Change the value to the required type (see the examples in examples/campaigns/).")),
    ("CFG-DUPLICATES-IN-GROUP",
     N_("Invalid value '{value}'; choose one of: {allowed}."),
     N_("'refuse' (the default) refuses a list with a person twice in one group; 'merge' keeps "
        "the first row.")),
    ("CFG-INTEGRITY",
     N_("{rule}"),
     N_("See the keys and thresholds the 'integrity' section accepts in the README (Integrity) or "
        "examples/campaigns/travinh-2023.yaml; leave a key out to keep its default.")),
    ("CFG-DESIGN",
     N_("{rule}"),
     N_("See the 'design' section in docs/design-and-scores.md or "
        "examples/campaigns/travinh-2023.yaml; leave 'design' out for the defaults (strata = "
        "group × rated unit).")),
    ("CFG-SCORING",
     N_("{rule}"),
     N_("See the 'scoring' section in docs/design-and-scores.md or "
        "examples/campaigns/travinh-2023.yaml.")),
    ("CFG-TEXT-EMPTY",
     N_("The value must not be empty."),
     N_("Fill in this value.")),
    ("CFG-CODE-FORMAT",
     N_("Code '{value}' is not valid."),
     N_("Use only unaccented Latin letters, digits, '-', '_' or '.', starting with a letter or "
        "digit, at most 64 characters.")),
    ("CFG-ENUM-VALUE",
     N_("Value '{value}' is not valid. Choose one of: {allowed}."),
     N_("Use exactly one of the listed values.")),
    ("CFG-PROVINCE-CODE",
     N_("Province code '{value}' is not valid."),
     N_("Use the 2-digit province code from the national list of administrative units (e.g. Trà "
        "Vinh is 84), quoted: \"84\".")),
    ("CFG-YEAR-RANGE",
     N_("Year {value} is outside the allowed range {low}–{high}."),
     N_("Enter the assessment year of the PAR Index (4 digits).")),
    ("CFG-DATE-FORMAT",
     N_("'{value}' is not an ISO 8601 date or date-time."),
     N_("Write it as 2023-10-01 or 2023-10-01T08:00 (local time in the campaign's time zone).")),
    ("CFG-DATE-ORDER",
     N_("The closing time ({closes}) is not after the opening time ({opens})."),
     N_("Change 'opens_at' or 'closes_at' so that closing comes after opening.")),
    ("CFG-TIMEZONE-UNKNOWN",
     N_("Time zone '{value}' is not in the IANA time zone database."),
     N_("Use an IANA zone name such as 'Asia/Ho_Chi_Minh', or drop the key to use the default.")),
    ("CFG-LEVEL-DUPLICATE",
     N_("Level '{value}' is declared more than once."),
     N_("Declare each level once under 'levels'.")),
    ("CFG-LEVEL-UNKNOWN",
     N_("Level '{value}' is not declared. Declared levels: {allowed}."),
     N_("Declare the level under 'levels' or fix the spelling.")),
    ("CFG-LEVEL-CYCLE",
     N_("The levels form a cycle: {cycle}."),
     N_("Fix the levels' 'parent' so that the top level (usually the province) has none.")),
    ("CFG-UNITS-FILE-PATH",
     N_("Cannot use units file path '{value}': {detail}."),
     N_("Put the units file (CSV or XLSX) next to the configuration and give a relative path, "
        "e.g. 'travinh-2023-units.csv'.")),
    ("CFG-UNITS-FILE-READ",
     N_("Cannot read units file '{value}': {detail}."),
     N_("Save the file as CSV UTF-8 or XLSX with the header row code, name_vi, name_en, level, "
        "parent_code.")),
    ("CFG-UNITS-FILE-HEADER",
     N_("The units file header lacks the column '{column}'."),
     N_("The first row must hold the columns: code, name_vi, name_en, level, parent_code.")),
    ("CFG-UNIT-DUPLICATE",
     N_("Unit code '{value}' is used twice (first at {first})."),
     N_("Give every unit its own code.")),
    ("CFG-UNIT-UNKNOWN",
     N_("There is no unit with code '{value}' in the unit list."),
     N_("Add the unit to the unit list or correct the code.")),
    ("CFG-UNIT-PARENT-MISSING",
     N_("Unit '{value}' is at level '{level}' and needs a parent at level '{parent_level}'."),
     N_("Give this unit's parent code.")),
    ("CFG-UNIT-PARENT-LEVEL",
     N_("Parent '{parent}' of '{value}' is at level '{actual}', but level '{level}' sits under "
        "level '{expected}'."),
     N_("Correct the parent code, or the level's 'parent' under 'levels' (after the 2025 reform "
        "communes sit directly under the province).")),
    ("CFG-GROUP-DUPLICATE",
     N_("Respondent group code '{value}' is used twice."),
     N_("Give every respondent group its own code.")),
    ("CFG-GROUP-UNKNOWN",
     N_("Respondent group '{value}' is not declared. Declared groups: {allowed}."),
     N_("Declare the group under 'groups' or fix the spelling.")),
    ("CFG-QUESTIONNAIRE-UNKNOWN",
     N_("There is no questionnaire with id '{value}'."),
     N_("Use the id of an existing questionnaire: {allowed}.")),
    ("CFG-QUOTA-QUESTIONNAIRE",
     N_("Group '{group}' does not fill questionnaire '{value}'. It fills: {allowed}."),
     N_("Add the questionnaire to the group's 'questionnaires' or correct the rule.")),
    ("CFG-QUOTA-COUNT",
     N_("Count '{value}' is not valid."),
     N_("Write a positive whole number (e.g. 3), or 'all' to survey everyone on the list.")),
    ("CFG-QUOTA-RATE",
     N_("Rating rule '{value}' is not valid."),
     N_("Write 'own' (rate their own unit) or 'each <level>' (e.g. 'each department').")),
    ("CFG-QUOTA-CHILDREN",
     N_("The 'children' entry is not valid: {detail}."),
     N_("Write 'children: {{count: 13, name: {{vi: phòng chuyên môn, en: division}}}}' or "
        "'children: {{count: all, level: commune}}'; rules with 'count: all' take no 'children'.")),
    ("CFG-QUOTA-CHILDREN-SHORT",
     N_("Unit '{unit}' has only {actual} children at level '{level}'; the rule needs {expected}."),
     N_("Add the missing child units to the unit list or lower the rule's count.")),
    ("CFG-QUOTA-SCOPE",
     N_("Unit '{value}' in '{key}' is not at the rule's level '{level}'."),
     N_("List only units at the level named in 'per'.")),
    ("CFG-QUOTA-NO-UNITS",
     N_("The rule applies to no unit: level '{level}' has no matching unit."),
     N_("Add units at this level to the unit list, or correct 'per' / 'only' / 'exclude'.")),
    ("CFG-QUOTA-ID-DUPLICATE",
     N_("Rule id '{value}' is used twice (first at {first})."),
     N_("Give each rule its own 'id'.")),
    ("CFG-QUOTA-DUPLICATE-CELL",
     N_("The rule creates a quota cell already made by {first}: group '{group}', questionnaire "
        "'{questionnaire}', rated unit '{rated}'{source_text}."),
     N_("Merge the two rules, or use 'only' / 'exclude' so that they do not overlap.")),
    ("CFG-PRIORITY-DUPLICATE",
     N_("Group '{value}' appears more than once in the priority list."),
     N_("List each group once under 'duplicate_priority'.")),
    ("CFG-PRIORITY-INCOMPLETE",
     N_("The priority list lacks the groups: {missing}."),
     N_("List every group under 'duplicate_priority', highest priority first, or drop the key to "
        "use the default (council delegates first).")),
    # -- respondent lists --------------------------------------------------------------
    ("LIST-FILE-FORMAT",
     N_("File '{value}' is neither CSV nor XLSX."),
     N_("In Excel use Save As > 'Excel Workbook (*.xlsx)' or 'CSV UTF-8'.")),
    ("LIST-FILE-EXPANDS",
     N_("The XLSX file expands to {size} MB, over the {limit} MB limit (possibly a zip bomb)."),
     N_("Open the file in Excel and save it again as XLSX, or as CSV UTF-8.")),
    ("LIST-FILE-READ",
     N_("Cannot read the file: {detail}."),
     N_("Open the file in Excel, check it and save it again as XLSX or CSV UTF-8.")),
    ("LIST-FILE-TOO-LARGE",
     N_("The file is {size} bytes, over the limit of {limit} bytes."),
     N_("Remove unused columns, sheets and formatting, or split the list into several files.")),
    ("LIST-TOO-MANY-ROWS",
     N_("The list has more than {limit} data rows."),
     N_("Split the list into files of at most {limit} rows each.")),
    ("LIST-ENCODING",
     N_("The CSV file is not UTF-8 encoded (bad byte at position {position})."),
     N_("In Excel use Save As > 'CSV UTF-8 (Comma delimited)', or upload the XLSX file.")),
    ("LIST-EMPTY",
     N_("The list has no data rows."),
     N_("Enter the list from row 2 of the first sheet, below the header row.")),
    ("LIST-HEADER-MISSING",
     N_("The header row lacks the required column '{column}'."),
     N_("Use the list template from the system; row 1 must hold the columns: {required}.")),
    ("LIST-HEADER-UNKNOWN",
     N_("Column '{column}' is not part of the list template. Valid columns: {allowed}."),
     N_("Rename the column to match the template or delete it.")),
    ("LIST-HEADER-DUPLICATE",
     N_("Column '{column}' appears more than once in the header row."),
     N_("Delete the repeated column.")),
    ("LIST-CELL-NO-HEADER",
     N_("The cell in column {position} has data but the column has no header."),
     N_("Delete the stray data or give the column a valid header.")),
    ("LIST-REQUIRED",
     N_("A required cell is empty."),
     N_("Fill in the '{column}' column.")),
    ("LIST-VALUE-TOO-LONG",
     N_("The value is {length} characters long, over the limit of {limit}."),
     N_("Shorten the cell's content.")),
    ("LIST-FORMULA",
     N_("The cell holds the formula '{value}' instead of a value."),
     N_("Copy the column and use Paste Special > Values; the system never evaluates formulas.")),
    ("LIST-EMAIL-INVALID",
     N_("Email address '{value}' is not valid ({detail})."),
     N_("Write the email as name@agency.gov.vn, one address per cell.")),
    ("LIST-PHONE-INVALID",
     N_("Phone number '{value}' is not a valid Vietnamese number."),
     N_("Write a 10-digit mobile number starting with 0 (e.g. 0912 345 678) or in +84 form; "
        "landlines have 11 digits starting with 02. Format the cell as Text to keep the leading 0.")),
    ("LIST-CONTACT-MISSING",
     N_("The row has neither an email address nor a phone number."),
     N_("Enter at least an email address or a phone number so the invitation can be sent.")),
    ("LIST-GROUP-UNKNOWN",
     N_("Respondent group code '{value}' is not in this campaign."),
     N_("Pick a group code from the drop-down list: {allowed}.")),
    ("LIST-UNIT-UNKNOWN",
     N_("Unit code '{value}' is not in the campaign's unit list."),
     N_("Pick a unit code from the drop-down list (the codes sheet of the template).")),
    ("LIST-UNIT-LEVEL",
     N_("Unit '{value}' is at level '{level}', but group '{group}' belongs to: {allowed}."),
     N_("Check this person's group or own unit.")),
    ("LIST-RATED-UNIT-UNKNOWN",
     N_("Rated unit '{value}' is not in the campaign's unit list."),
     N_("Separate unit codes with ';' and take them from the template's codes sheet.")),
    ("LIST-SEX-INVALID",
     N_("Sex '{value}' is not valid."),
     N_("Write 'Nam', 'Nữ' or 'Khác' (or male / female / other), or leave it empty.")),
    ("LIST-AGE-INVALID",
     N_("'{value}' is not a valid {what} (allowed {low}–{high})."),
     N_("Write a 4-digit birth year or a whole-number age, or leave it empty.")),
    ("LIST-AGE-CONFLICT",
     N_("Birth year {birth_year} and age {age} disagree (reference year {year})."),
     N_("Fill only one of birth_year and age, or make them agree.")),
    ("LIST-DUPLICATE-ID",
     N_("Id '{value}' repeats row {first_row}."),
     N_("Each person needs their own external_id in the file; delete the repeated row or fix the "
        "id.")),
    ("LIST-DUPLICATE-EMAIL",
     N_("Email '{value}' repeats row {first_row} within the same group '{group}'."),
     N_("A person appears once per group; delete the repeated row or correct the email.")),
    ("LIST-DUPLICATE-PERSON",
     N_("This row is the same person as row {first_row} in group '{group}' (same {matched})."),
     N_("Delete one of the two rows, or correct the phone/name if they are two people; a campaign "
        "may set 'duplicates_in_group: merge' to merge them.")),
    # -- drawing samples ---------------------------------------------------------------
    ("DRAW-SIZE-INVALID",
     N_("Sample size {n} (reserve {reserve}) is not valid for a frame of {available} elements."),
     N_("Sample and reserve sizes must be non-negative whole numbers whose sum does not exceed "
        "the selectable elements.")),
    ("DRAW-MEASURE-INVALID",
     N_("The size measure of element {index} is '{value}', which is not valid."),
     N_("Size measures (e.g. population) must be finite and non-negative.")),
    # -- unit crosswalks across the 2025 merger (sampling.crosswalk) ---------------------
    ("XW-FILE-READ",
     N_("Cannot read the crosswalk file: {detail}."),
     N_("Save the file as CSV (UTF-8) or XLSX, starting from the template that units "
        "crosswalk-template writes.")),
    ("XW-HEADER-MISSING",
     N_("The header row lacks the required column '{column}'."),
     N_("Row 1 must hold the columns: {required}.")),
    ("XW-EMPTY",
     N_("The '{column}' cell is empty."),
     N_("Fill in the unit code; write '-' in new_code if the old unit has no successor.")),
    ("XW-CAMPAIGN-UNKNOWN",
     N_("Campaign '{value}' is not a declared predecessor. Valid campaigns: {allowed}."),
     N_("Write the code of a campaign listed under predecessors in the configuration.")),
    ("XW-OLD-UNKNOWN",
     N_("Unit '{value}' is not a unit of campaign {campaign}."),
     N_("Use a unit code from the earlier campaign's unit list (see the crosswalk template).")),
    ("XW-OLD-MISSING",
     N_("Unit '{value}' ({name}) of campaign {campaign} has no row in the crosswalk."),
     N_("Add at least one row for this unit: the new unit that continues it, or '-' if none.")),
    ("XW-NEW-UNKNOWN",
     N_("New unit '{value}' is not in the new campaign's unit list."),
     N_("Use a unit code of the new campaign, or '-' if the old unit has no successor.")),
    ("XW-SHARE-FORMAT",
     N_("The share '{value}' is not valid."),
     N_("Write a number above 0 and at most 1 (e.g. 0.4), or leave it empty when the old unit "
        "goes whole to one new unit.")),
    ("XW-SHARE-SUM",
     N_("The shares of unit '{value}' (campaign {campaign}) add up to {total}, not 1 (rows "
        "{rows})."),
     N_("Correct the shares on these rows so that they add up to 1; when a unit is split, every "
        "row needs a share.")),
    ("XW-DUPLICATE",
     N_("The pair '{value}' → '{new}' (campaign {campaign}) repeats row {first}."),
     N_("Delete the repeated row or add its share to the first one.")),
    ("CFG-PREDECESSOR-DUPLICATE",
     N_("Campaign '{value}' appears more than once under 'predecessors'."),
     N_("List each earlier campaign once.")),
    ("CFG-PREDECESSOR-UNKNOWN",
     N_("Campaign '{value}' is not in the system."),
     N_("Load the earlier campaign first (par-survey campaign create), then this one again.")),
    ("CFG-CROSSWALK-PATH",
     N_("Cannot use the crosswalk file '{value}': {detail}."),
     N_("Put the crosswalk file next to the configuration and give a relative path.")),
)
register(_SPECS)

#: the codes of the sampling package (tests check that each has a case)
ERROR_CODES: Final = frozenset(code for code, *_texts in _SPECS)


def config_problem(code: str, file: str, path: str, *, line: int | None = None,
                   **params: Any) -> Problem:
    """A problem in a campaign configuration (or its units file) at ``path`` (e.g.
    ``groups[2].questionnaires[0]``, or ``row 5, parent_code`` in a units table)."""
    return Problem(code, Location(file=file, path=path, line=line), params)


def list_problem(code: str, file: str, row: int | None = None, column: str | None = None,
                 **params: Any) -> Problem:
    """A problem in a respondent list (or a crosswalk) at ``row`` (as Excel shows it, header is
    row 1) and ``column`` (its header); either is ``None`` for a whole row or file."""
    params.setdefault("column", column or "")
    return Problem(code, Location(file=file, row=row, column=column), params)


class CampaignInvalid(Exception):
    """Raised by the campaign loader with every problem it found."""

    def __init__(self, errors: tuple[Problem, ...]) -> None:
        self.errors = errors
        head = "; ".join(str(e) for e in errors[:3])
        more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
        super().__init__(f"{len(errors)} configuration error(s): {head}{more}")


class DrawError(ProblemError, ValueError):
    """Raised for invalid sampling arguments; carries a registered code and its parameters."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code, **params)
