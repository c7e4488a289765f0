"""Stable error codes of the sampling package, with bilingual messages and fixes.

Every problem a user can act on is reported with a code from :data:`ERROR_CODES`.
Codes are part of the public contract (the web layer, tests and user documentation
refer to them), so a code is never renamed or reused; add a new one instead.

Messages are ``str.format`` templates with named placeholders.  Parameters ending in
``_vi`` / ``_en`` carry text that itself needs translating (e.g. a type name).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """One entry of the error catalogue.

    Attributes
    ----------
    code : str
        Stable identifier, ``AREA-THING-PROBLEM``.
    message_vi, message_en : str
        What is wrong; ``str.format`` templates with named placeholders.
    fix_vi, fix_en : str
        How to fix it, addressed to the person who edits the file.
    """

    code: str
    message_vi: str
    message_en: str
    fix_vi: str
    fix_en: str


_SPECS: tuple[ErrorSpec, ...] = (
    # -- campaign configuration --------------------------------------------------------
    ErrorSpec(
        "CFG-FILE-READ",
        "Không đọc được tệp cấu hình: {detail}.",
        "Cannot read the configuration file: {detail}.",
        "Kiểm tra đường dẫn và lưu tệp ở dạng văn bản UTF-8.",
        "Check the path and save the file as UTF-8 text.",
    ),
    ErrorSpec(
        "CFG-YAML-SYNTAX",
        "Cú pháp YAML không hợp lệ: {detail}.",
        "Invalid YAML syntax: {detail}.",
        "Sửa dòng được chỉ ra: thụt lề bằng dấu cách (không dùng tab), có dấu ':' sau tên khóa, "
        "đặt chuỗi có ký tự đặc biệt trong dấu nháy.",
        "Fix the line shown: indent with spaces (not tabs), put ':' after each key, quote "
        "strings that contain special characters.",
    ),
    ErrorSpec(
        "CFG-YAML-TOO-LARGE",
        "Tệp YAML quá lớn ({detail}; tối đa {limit} byte).",
        "The YAML file is too large ({detail}; at most {limit} bytes).",
        "Tách danh sách đơn vị ra tệp riêng (units_file) hoặc bỏ phần không dùng.",
        "Move the unit list to its own file (units_file) or drop what is not used.",
    ),
    ErrorSpec(
        "CFG-YAML-TOO-DEEP",
        "Tệp YAML lồng quá sâu (quá {limit} cấp).",
        "The YAML file nests too deeply (more than {limit} levels).",
        "Một tệp cấu hình chỉ cần vài cấp lồng nhau; kiểm tra dấu ngoặc và thụt lề.",
        "A configuration file needs only a few levels; check brackets and indentation.",
    ),
    ErrorSpec(
        "CFG-YAML-ALIASES",
        "Các bí danh YAML (*alias) mở rộng quá {limit} nút.",
        "The YAML aliases (*alias) expand to more than {limit} nodes.",
        "Viết trực tiếp nội dung thay vì dùng &neo và *bí danh lồng nhau.",
        "Write the content out instead of nesting &anchors and *aliases.",
    ),
    ErrorSpec(
        "CFG-VERSION",
        "Phiên bản định dạng '{value}' không được hỗ trợ.",
        "Format version '{value}' is not supported.",
        "Đặt 'version: {expected}'.",
        "Set 'version: {expected}'.",
    ),
    ErrorSpec(
        "CFG-KEY-MISSING",
        "Thiếu khóa bắt buộc '{key}'.",
        "Required key '{key}' is missing.",
        "Thêm khóa '{key}' vào mục này.",
        "Add the key '{key}' to this section.",
    ),
    ErrorSpec(
        "CFG-KEY-UNKNOWN",
        "Khóa '{key}' không được hỗ trợ ở đây. Các khóa hợp lệ: {allowed}.",
        "Key '{key}' is not allowed here. Allowed keys: {allowed}.",
        "Sửa lỗi chính tả hoặc xóa khóa này.",
        "Fix the spelling or remove the key.",
    ),
    ErrorSpec(
        "CFG-KEY-DUPLICATE",
        "Khóa '{key}' xuất hiện hai lần trong cùng một mục (lần đầu ở dòng {first_line}).",
        "Key '{key}' appears twice in the same section (first on line {first_line}).",
        "Giữ lại một lần khai báo và xóa lần còn lại.",
        "Keep one of the two entries and delete the other.",
    ),
    ErrorSpec(
        "CFG-TYPE",
        "Giá trị phải là {expected_vi}, nhưng nhận được {actual}.",
        "The value must be {expected_en}, got {actual}.",
        "Sửa giá trị theo đúng kiểu yêu cầu (xem ví dụ trong examples/campaigns/).",
        "Change the value to the required type (see the examples in examples/campaigns/).",
    ),
    ErrorSpec(
        "CFG-DUPLICATES-IN-GROUP",
        "Giá trị '{value}' không hợp lệ; chọn một trong: {allowed}.",
        "Invalid value '{value}'; choose one of: {allowed}.",
        "'refuse' (mặc định) từ chối danh sách có một người hai lần trong một nhóm; 'merge' "
        "giữ dòng đầu tiên.",
        "'refuse' (the default) refuses a list with a person twice in one group; 'merge' keeps "
        "the first row.",
    ),
    ErrorSpec(
        "CFG-INTEGRITY",
        "{detail_vi}",
        "{detail_en}",
        "Xem các khóa và ngưỡng hợp lệ của mục 'integrity' trong README (mục Integrity) hoặc "
        "examples/campaigns/travinh-2023.yaml; bỏ khóa để dùng giá trị mặc định.",
        "See the keys and thresholds the 'integrity' section accepts in the README (Integrity) "
        "or examples/campaigns/travinh-2023.yaml; leave a key out to keep its default.",
    ),
    ErrorSpec(
        "CFG-DESIGN",
        "{detail_vi}",
        "{detail_en}",
        "Xem mục 'design' trong docs/design-and-scores.md hoặc examples/campaigns/travinh-2023.yaml; "
        "bỏ mục 'design' để dùng mặc định (tầng = nhóm × đơn vị được đánh giá).",
        "See the 'design' section in docs/design-and-scores.md or examples/campaigns/travinh-2023.yaml; "
        "leave 'design' out for the defaults (strata = group × rated unit).",
    ),
    ErrorSpec(
        "CFG-SCORING",
        "{detail_vi}",
        "{detail_en}",
        "Xem mục 'scoring' trong docs/design-and-scores.md hoặc examples/campaigns/travinh-2023.yaml.",
        "See the 'scoring' section in docs/design-and-scores.md or examples/campaigns/travinh-2023.yaml.",
    ),
    ErrorSpec(
        "CFG-TEXT-EMPTY",
        "Giá trị không được để trống.",
        "The value must not be empty.",
        "Nhập nội dung cho mục này.",
        "Fill in this value.",
    ),
    ErrorSpec(
        "CFG-CODE-FORMAT",
        "Mã '{value}' không hợp lệ.",
        "Code '{value}' is not valid.",
        "Mã chỉ gồm chữ Latin không dấu, chữ số, '-', '_' hoặc '.', bắt đầu bằng chữ hoặc số, "
        "tối đa 64 ký tự.",
        "Use only unaccented Latin letters, digits, '-', '_' or '.', starting with a letter or "
        "digit, at most 64 characters.",
    ),
    ErrorSpec(
        "CFG-ENUM-VALUE",
        "Giá trị '{value}' không hợp lệ. Chọn một trong: {allowed}.",
        "Value '{value}' is not valid. Choose one of: {allowed}.",
        "Dùng đúng một trong các giá trị được liệt kê.",
        "Use exactly one of the listed values.",
    ),
    ErrorSpec(
        "CFG-PROVINCE-CODE",
        "Mã tỉnh '{value}' không hợp lệ.",
        "Province code '{value}' is not valid.",
        "Dùng mã tỉnh 2 chữ số theo danh mục đơn vị hành chính (ví dụ Trà Vinh là 84), "
        "đặt trong dấu nháy: \"84\".",
        "Use the 2-digit province code from the national list of administrative units (e.g. "
        "Trà Vinh is 84), quoted: \"84\".",
    ),
    ErrorSpec(
        "CFG-YEAR-RANGE",
        "Năm {value} nằm ngoài khoảng cho phép {low}–{high}.",
        "Year {value} is outside the allowed range {low}–{high}.",
        "Nhập năm đánh giá của Chỉ số CCHC (4 chữ số).",
        "Enter the assessment year of the PAR Index (4 digits).",
    ),
    ErrorSpec(
        "CFG-DATE-FORMAT",
        "'{value}' không phải ngày giờ theo ISO 8601.",
        "'{value}' is not an ISO 8601 date or date-time.",
        "Viết theo dạng 2023-10-01 hoặc 2023-10-01T08:00 (giờ theo múi giờ của đợt khảo sát).",
        "Write it as 2023-10-01 or 2023-10-01T08:00 (local time in the campaign's time zone).",
    ),
    ErrorSpec(
        "CFG-DATE-ORDER",
        "Thời điểm đóng ({closes}) không sau thời điểm mở ({opens}).",
        "The closing time ({closes}) is not after the opening time ({opens}).",
        "Sửa 'opens_at' hoặc 'closes_at' để thời điểm đóng sau thời điểm mở.",
        "Change 'opens_at' or 'closes_at' so that closing comes after opening.",
    ),
    ErrorSpec(
        "CFG-TIMEZONE-UNKNOWN",
        "Múi giờ '{value}' không có trong cơ sở dữ liệu múi giờ IANA.",
        "Time zone '{value}' is not in the IANA time zone database.",
        "Dùng tên múi giờ IANA, ví dụ 'Asia/Ho_Chi_Minh', hoặc bỏ khóa này để dùng mặc định.",
        "Use an IANA zone name such as 'Asia/Ho_Chi_Minh', or drop the key to use the default.",
    ),
    ErrorSpec(
        "CFG-LEVEL-DUPLICATE",
        "Cấp '{value}' được khai báo nhiều lần.",
        "Level '{value}' is declared more than once.",
        "Mỗi cấp chỉ khai báo một lần trong 'levels'.",
        "Declare each level once under 'levels'.",
    ),
    ErrorSpec(
        "CFG-LEVEL-UNKNOWN",
        "Cấp '{value}' chưa được khai báo. Các cấp đã khai báo: {allowed}.",
        "Level '{value}' is not declared. Declared levels: {allowed}.",
        "Khai báo cấp này trong 'levels' hoặc sửa lỗi chính tả.",
        "Declare the level under 'levels' or fix the spelling.",
    ),
    ErrorSpec(
        "CFG-LEVEL-CYCLE",
        "Các cấp tạo thành vòng lặp: {cycle}.",
        "The levels form a cycle: {cycle}.",
        "Sửa 'parent' của các cấp để cấp cao nhất (thường là tỉnh) không có cấp cha.",
        "Fix the levels' 'parent' so that the top level (usually the province) has none.",
    ),
    ErrorSpec(
        "CFG-UNITS-FILE-PATH",
        "Không dùng được đường dẫn tệp đơn vị '{value}': {detail_vi}.",
        "Cannot use units file path '{value}': {detail_en}.",
        "Đặt tệp danh mục đơn vị (CSV hoặc XLSX) cùng thư mục với tệp cấu hình và ghi đường "
        "dẫn tương đối, ví dụ 'travinh-2023-units.csv'.",
        "Put the units file (CSV or XLSX) next to the configuration and give a relative path, "
        "e.g. 'travinh-2023-units.csv'.",
    ),
    ErrorSpec(
        "CFG-UNITS-FILE-READ",
        "Không đọc được tệp đơn vị '{value}': {detail_vi}.",
        "Cannot read units file '{value}': {detail_en}.",
        "Lưu tệp ở dạng CSV UTF-8 hoặc XLSX, có dòng tiêu đề code, name_vi, name_en, level, "
        "parent_code.",
        "Save the file as CSV UTF-8 or XLSX with the header row code, name_vi, name_en, level, "
        "parent_code.",
    ),
    ErrorSpec(
        "CFG-UNITS-FILE-HEADER",
        "Dòng tiêu đề của tệp đơn vị thiếu cột '{column}'.",
        "The units file header lacks the column '{column}'.",
        "Dòng đầu phải có đúng các cột: code, name_vi, name_en, level, parent_code.",
        "The first row must hold the columns: code, name_vi, name_en, level, parent_code.",
    ),
    ErrorSpec(
        "CFG-UNIT-DUPLICATE",
        "Mã đơn vị '{value}' bị trùng (đã có ở {first}).",
        "Unit code '{value}' is used twice (first at {first}).",
        "Mỗi đơn vị phải có một mã riêng.",
        "Give every unit its own code.",
    ),
    ErrorSpec(
        "CFG-UNIT-UNKNOWN",
        "Không có đơn vị mã '{value}' trong danh mục đơn vị.",
        "There is no unit with code '{value}' in the unit list.",
        "Thêm đơn vị vào danh mục hoặc sửa mã cho khớp.",
        "Add the unit to the unit list or correct the code.",
    ),
    ErrorSpec(
        "CFG-UNIT-PARENT-MISSING",
        "Đơn vị '{value}' thuộc cấp '{level}' nên phải có đơn vị cha cấp '{parent_level}'.",
        "Unit '{value}' is at level '{level}' and needs a parent at level '{parent_level}'.",
        "Ghi mã đơn vị cha (parent) cho đơn vị này.",
        "Give this unit's parent code.",
    ),
    ErrorSpec(
        "CFG-UNIT-PARENT-LEVEL",
        "Đơn vị cha '{parent}' của '{value}' thuộc cấp '{actual}', nhưng cấp '{level}' phải "
        "nằm dưới cấp '{expected}'.",
        "Parent '{parent}' of '{value}' is at level '{actual}', but level '{level}' sits under "
        "level '{expected}'.",
        "Sửa mã đơn vị cha, hoặc sửa 'parent' của cấp trong 'levels' (sau cải cách 2025 xã "
        "trực thuộc tỉnh).",
        "Correct the parent code, or the level's 'parent' under 'levels' (after the 2025 reform "
        "communes sit directly under the province).",
    ),
    ErrorSpec(
        "CFG-GROUP-DUPLICATE",
        "Mã nhóm đối tượng '{value}' bị trùng.",
        "Respondent group code '{value}' is used twice.",
        "Mỗi nhóm đối tượng phải có một mã riêng.",
        "Give every respondent group its own code.",
    ),
    ErrorSpec(
        "CFG-GROUP-UNKNOWN",
        "Nhóm đối tượng '{value}' chưa được khai báo. Các nhóm đã khai báo: {allowed}.",
        "Respondent group '{value}' is not declared. Declared groups: {allowed}.",
        "Khai báo nhóm trong 'groups' hoặc sửa lỗi chính tả.",
        "Declare the group under 'groups' or fix the spelling.",
    ),
    ErrorSpec(
        "CFG-QUESTIONNAIRE-UNKNOWN",
        "Không có phiếu khảo sát mã '{value}'.",
        "There is no questionnaire with id '{value}'.",
        "Dùng mã của một phiếu đã có: {allowed}.",
        "Use the id of an existing questionnaire: {allowed}.",
    ),
    ErrorSpec(
        "CFG-QUOTA-QUESTIONNAIRE",
        "Nhóm '{group}' không điền phiếu '{value}'. Nhóm này điền: {allowed}.",
        "Group '{group}' does not fill questionnaire '{value}'. It fills: {allowed}.",
        "Thêm phiếu vào 'questionnaires' của nhóm hoặc sửa mã phiếu trong quy tắc.",
        "Add the questionnaire to the group's 'questionnaires' or correct the rule.",
    ),
    ErrorSpec(
        "CFG-QUOTA-COUNT",
        "Số lượng '{value}' không hợp lệ.",
        "Count '{value}' is not valid.",
        "Ghi một số nguyên dương (ví dụ 3), hoặc 'all' để khảo sát toàn bộ danh sách.",
        "Write a positive whole number (e.g. 3), or 'all' to survey everyone on the list.",
    ),
    ErrorSpec(
        "CFG-QUOTA-RATE",
        "Cách đánh giá '{value}' không hợp lệ.",
        "Rating rule '{value}' is not valid.",
        "Ghi 'own' (đánh giá chính đơn vị của mình) hoặc 'each <cấp>' (ví dụ 'each department').",
        "Write 'own' (rate their own unit) or 'each <level>' (e.g. 'each department').",
    ),
    ErrorSpec(
        "CFG-QUOTA-CHILDREN",
        "Mục 'children' không hợp lệ: {detail_vi}.",
        "The 'children' entry is not valid: {detail_en}.",
        "Ghi 'children: {{count: 13, name: {{vi: phòng chuyên môn, en: division}}}}' hoặc "
        "'children: {{count: all, level: commune}}'; quy tắc 'count: all' không dùng 'children'.",
        "Write 'children: {{count: 13, name: {{vi: phòng chuyên môn, en: division}}}}' or "
        "'children: {{count: all, level: commune}}'; rules with 'count: all' take no 'children'.",
    ),
    ErrorSpec(
        "CFG-QUOTA-CHILDREN-SHORT",
        "Đơn vị '{unit}' chỉ có {actual} đơn vị con cấp '{level}', quy tắc cần {expected}.",
        "Unit '{unit}' has only {actual} children at level '{level}'; the rule needs {expected}.",
        "Bổ sung đơn vị con vào danh mục hoặc giảm số lượng trong quy tắc.",
        "Add the missing child units to the unit list or lower the rule's count.",
    ),
    ErrorSpec(
        "CFG-QUOTA-SCOPE",
        "Đơn vị '{value}' trong '{key}' không thuộc cấp '{level}' của quy tắc.",
        "Unit '{value}' in '{key}' is not at the rule's level '{level}'.",
        "Chỉ liệt kê đơn vị thuộc cấp ghi ở 'per'.",
        "List only units at the level named in 'per'.",
    ),
    ErrorSpec(
        "CFG-QUOTA-NO-UNITS",
        "Quy tắc không áp dụng cho đơn vị nào: cấp '{level}' không có đơn vị phù hợp.",
        "The rule applies to no unit: level '{level}' has no matching unit.",
        "Thêm đơn vị cấp này vào danh mục, hoặc sửa 'per' / 'only' / 'exclude'.",
        "Add units at this level to the unit list, or correct 'per' / 'only' / 'exclude'.",
    ),
    ErrorSpec(
        "CFG-QUOTA-ID-DUPLICATE",
        "Mã quy tắc '{value}' bị trùng (đã có ở {first}).",
        "Rule id '{value}' is used twice (first at {first}).",
        "Đặt khóa 'id' riêng cho từng quy tắc.",
        "Give each rule its own 'id'.",
    ),
    ErrorSpec(
        "CFG-QUOTA-DUPLICATE-CELL",
        "Quy tắc tạo lại ô chỉ tiêu đã có từ {first}: nhóm '{group}', phiếu '{questionnaire}', "
        "đơn vị được đánh giá '{rated}'{source_text}.",
        "The rule creates a quota cell already made by {first}: group '{group}', questionnaire "
        "'{questionnaire}', rated unit '{rated}'{source_text}.",
        "Gộp hai quy tắc thành một, hoặc dùng 'only' / 'exclude' để chúng không chồng nhau.",
        "Merge the two rules, or use 'only' / 'exclude' so that they do not overlap.",
    ),
    ErrorSpec(
        "CFG-PRIORITY-DUPLICATE",
        "Nhóm '{value}' xuất hiện nhiều lần trong danh sách ưu tiên.",
        "Group '{value}' appears more than once in the priority list.",
        "Mỗi nhóm chỉ ghi một lần trong 'duplicate_priority'.",
        "List each group once under 'duplicate_priority'.",
    ),
    ErrorSpec(
        "CFG-PRIORITY-INCOMPLETE",
        "Danh sách ưu tiên thiếu các nhóm: {missing}.",
        "The priority list lacks the groups: {missing}.",
        "Ghi tất cả các nhóm vào 'duplicate_priority', nhóm ưu tiên cao nhất đứng đầu, hoặc bỏ "
        "khóa này để dùng mặc định (đại biểu HĐND trước).",
        "List every group under 'duplicate_priority', highest priority first, or drop the key to "
        "use the default (council delegates first).",
    ),
    # -- respondent lists --------------------------------------------------------------
    ErrorSpec(
        "LIST-FILE-FORMAT",
        "Tệp '{value}' không phải CSV hoặc XLSX.",
        "File '{value}' is neither CSV nor XLSX.",
        "Trong Excel chọn Lưu thành > 'Excel Workbook (*.xlsx)' hoặc 'CSV UTF-8'.",
        "In Excel use Save As > 'Excel Workbook (*.xlsx)' or 'CSV UTF-8'.",
    ),
    ErrorSpec(
        "LIST-FILE-EXPANDS",
        "Tệp XLSX giải nén ra {size} MB, vượt giới hạn {limit} MB (có thể là một 'bom zip').",
        "The XLSX file expands to {size} MB, over the {limit} MB limit (possibly a zip bomb).",
        "Mở tệp bằng Excel và lưu lại dạng XLSX, hoặc lưu dạng CSV UTF-8.",
        "Open the file in Excel and save it again as XLSX, or as CSV UTF-8.",
    ),
    ErrorSpec(
        "LIST-FILE-READ",
        "Không đọc được tệp: {detail}.",
        "Cannot read the file: {detail}.",
        "Mở tệp bằng Excel, kiểm tra nội dung rồi lưu lại dạng XLSX hoặc CSV UTF-8.",
        "Open the file in Excel, check it and save it again as XLSX or CSV UTF-8.",
    ),
    ErrorSpec(
        "LIST-FILE-TOO-LARGE",
        "Tệp có dung lượng {size} byte, vượt giới hạn {limit} byte.",
        "The file is {size} bytes, over the limit of {limit} bytes.",
        "Xóa các cột, trang tính và định dạng thừa, hoặc chia danh sách thành nhiều tệp.",
        "Remove unused columns, sheets and formatting, or split the list into several files.",
    ),
    ErrorSpec(
        "LIST-TOO-MANY-ROWS",
        "Danh sách có hơn {limit} dòng dữ liệu.",
        "The list has more than {limit} data rows.",
        "Chia danh sách thành nhiều tệp, mỗi tệp không quá {limit} dòng.",
        "Split the list into files of at most {limit} rows each.",
    ),
    ErrorSpec(
        "LIST-ENCODING",
        "Tệp CSV không được mã hóa UTF-8 (byte lỗi ở vị trí {position}).",
        "The CSV file is not UTF-8 encoded (bad byte at position {position}).",
        "Trong Excel chọn Lưu thành > 'CSV UTF-8 (Comma delimited)', hoặc nộp tệp XLSX.",
        "In Excel use Save As > 'CSV UTF-8 (Comma delimited)', or upload the XLSX file.",
    ),
    ErrorSpec(
        "LIST-EMPTY",
        "Danh sách không có dòng dữ liệu nào.",
        "The list has no data rows.",
        "Nhập danh sách từ dòng 2 của trang tính đầu tiên, dưới dòng tiêu đề.",
        "Enter the list from row 2 of the first sheet, below the header row.",
    ),
    ErrorSpec(
        "LIST-HEADER-MISSING",
        "Thiếu cột bắt buộc '{column}' ở dòng tiêu đề.",
        "The header row lacks the required column '{column}'.",
        "Dùng mẫu danh sách tải từ hệ thống; dòng 1 phải có các cột: {required}.",
        "Use the list template from the system; row 1 must hold the columns: {required}.",
    ),
    ErrorSpec(
        "LIST-HEADER-UNKNOWN",
        "Cột '{column}' không thuộc mẫu danh sách. Các cột hợp lệ: {allowed}.",
        "Column '{column}' is not part of the list template. Valid columns: {allowed}.",
        "Đổi tên cột cho đúng mẫu hoặc xóa cột này.",
        "Rename the column to match the template or delete it.",
    ),
    ErrorSpec(
        "LIST-HEADER-DUPLICATE",
        "Cột '{column}' xuất hiện nhiều lần ở dòng tiêu đề.",
        "Column '{column}' appears more than once in the header row.",
        "Xóa cột bị lặp.",
        "Delete the repeated column.",
    ),
    ErrorSpec(
        "LIST-CELL-NO-HEADER",
        "Ô ở cột thứ {position} có dữ liệu nhưng cột không có tiêu đề.",
        "The cell in column {position} has data but the column has no header.",
        "Xóa dữ liệu thừa hoặc thêm tiêu đề hợp lệ cho cột.",
        "Delete the stray data or give the column a valid header.",
    ),
    ErrorSpec(
        "LIST-REQUIRED",
        "Ô bắt buộc để trống.",
        "A required cell is empty.",
        "Nhập giá trị cho cột '{column}'.",
        "Fill in the '{column}' column.",
    ),
    ErrorSpec(
        "LIST-VALUE-TOO-LONG",
        "Giá trị dài {length} ký tự, vượt giới hạn {limit}.",
        "The value is {length} characters long, over the limit of {limit}.",
        "Rút gọn nội dung ô.",
        "Shorten the cell's content.",
    ),
    ErrorSpec(
        "LIST-FORMULA",
        "Ô chứa công thức '{value}' thay vì giá trị.",
        "The cell holds the formula '{value}' instead of a value.",
        "Sao chép cột rồi dán đặc biệt > 'Chỉ giá trị' (Paste Special > Values); hệ thống không "
        "tính công thức.",
        "Copy the column and use Paste Special > Values; the system never evaluates formulas.",
    ),
    ErrorSpec(
        "LIST-EMAIL-INVALID",
        "Địa chỉ email '{value}' không hợp lệ ({detail}).",
        "Email address '{value}' is not valid ({detail}).",
        "Sửa email theo dạng ten@coquan.gov.vn, mỗi ô chỉ một địa chỉ.",
        "Write the email as name@agency.gov.vn, one address per cell.",
    ),
    ErrorSpec(
        "LIST-PHONE-INVALID",
        "Số điện thoại '{value}' không phải số Việt Nam hợp lệ.",
        "Phone number '{value}' is not a valid Vietnamese number.",
        "Ghi số di động 10 chữ số bắt đầu bằng 0 (ví dụ 0912 345 678) hoặc dạng +84; số cố định "
        "11 chữ số bắt đầu bằng 02. Định dạng ô là Văn bản (Text) để giữ số 0 đầu.",
        "Write a 10-digit mobile number starting with 0 (e.g. 0912 345 678) or in +84 form; "
        "landlines have 11 digits starting with 02. Format the cell as Text to keep the "
        "leading 0.",
    ),
    ErrorSpec(
        "LIST-CONTACT-MISSING",
        "Dòng không có email và cũng không có số điện thoại.",
        "The row has neither an email address nor a phone number.",
        "Nhập ít nhất email hoặc số điện thoại để gửi thư mời khảo sát.",
        "Enter at least an email address or a phone number so the invitation can be sent.",
    ),
    ErrorSpec(
        "LIST-GROUP-UNKNOWN",
        "Mã nhóm đối tượng '{value}' không có trong đợt khảo sát.",
        "Respondent group code '{value}' is not in this campaign.",
        "Chọn mã nhóm từ danh sách thả xuống: {allowed}.",
        "Pick a group code from the drop-down list: {allowed}.",
    ),
    ErrorSpec(
        "LIST-UNIT-UNKNOWN",
        "Mã đơn vị '{value}' không có trong danh mục đơn vị của đợt khảo sát.",
        "Unit code '{value}' is not in the campaign's unit list.",
        "Chọn mã đơn vị từ danh sách thả xuống (trang tính mã đơn vị của mẫu).",
        "Pick a unit code from the drop-down list (the codes sheet of the template).",
    ),
    ErrorSpec(
        "LIST-UNIT-LEVEL",
        "Đơn vị '{value}' thuộc cấp '{level}', nhưng nhóm '{group}' thuộc cấp: {allowed}.",
        "Unit '{value}' is at level '{level}', but group '{group}' belongs to: {allowed}.",
        "Kiểm tra lại nhóm đối tượng hoặc đơn vị công tác của người này.",
        "Check this person's group or own unit.",
    ),
    ErrorSpec(
        "LIST-RATED-UNIT-UNKNOWN",
        "Đơn vị được đánh giá '{value}' không có trong danh mục đơn vị.",
        "Rated unit '{value}' is not in the campaign's unit list.",
        "Ghi các mã đơn vị cách nhau bằng dấu ';', lấy từ trang tính mã đơn vị của mẫu.",
        "Separate unit codes with ';' and take them from the template's codes sheet.",
    ),
    ErrorSpec(
        "LIST-SEX-INVALID",
        "Giới tính '{value}' không hợp lệ.",
        "Sex '{value}' is not valid.",
        "Ghi 'Nam', 'Nữ' hoặc 'Khác' (hoặc male / female / other), hoặc để trống.",
        "Write 'Nam', 'Nữ' or 'Khác' (or male / female / other), or leave it empty.",
    ),
    ErrorSpec(
        "LIST-AGE-INVALID",
        "'{value}' không phải {what_vi} hợp lệ (cho phép {low}–{high}).",
        "'{value}' is not a valid {what_en} (allowed {low}–{high}).",
        "Ghi năm sinh 4 chữ số hoặc tuổi là số nguyên, hoặc để trống.",
        "Write a 4-digit birth year or a whole-number age, or leave it empty.",
    ),
    ErrorSpec(
        "LIST-AGE-CONFLICT",
        "Năm sinh {birth_year} và tuổi {age} không khớp nhau (năm tham chiếu {year}).",
        "Birth year {birth_year} and age {age} disagree (reference year {year}).",
        "Chỉ ghi một trong hai cột birth_year hoặc age, hoặc sửa cho khớp.",
        "Fill only one of birth_year and age, or make them agree.",
    ),
    ErrorSpec(
        "LIST-DUPLICATE-ID",
        "Mã '{value}' trùng với dòng {first_row}.",
        "Id '{value}' repeats row {first_row}.",
        "Mỗi người phải có một external_id riêng trong tệp; xóa dòng trùng hoặc sửa mã.",
        "Each person needs their own external_id in the file; delete the repeated row or fix "
        "the id.",
    ),
    ErrorSpec(
        "LIST-DUPLICATE-EMAIL",
        "Email '{value}' trùng với dòng {first_row} trong cùng nhóm '{group}'.",
        "Email '{value}' repeats row {first_row} within the same group '{group}'.",
        "Mỗi người chỉ xuất hiện một lần trong một nhóm; xóa dòng trùng hoặc sửa email.",
        "A person appears once per group; delete the repeated row or correct the email.",
    ),
    ErrorSpec(
        "LIST-DUPLICATE-PERSON",
        "Dòng này là cùng một người với dòng {first_row} trong nhóm '{group}' (trùng {matched_vi}).",
        "This row is the same person as row {first_row} in group '{group}' (same {matched_en}).",
        "Xóa một trong hai dòng, hoặc sửa số điện thoại/tên nếu là hai người khác nhau; "
        "đợt khảo sát có thể đặt 'duplicates_in_group: merge' để tự gộp.",
        "Delete one of the two rows, or correct the phone/name if they are two people; a "
        "campaign may set 'duplicates_in_group: merge' to merge them.",
    ),
    # -- drawing samples ---------------------------------------------------------------
    ErrorSpec(
        "DRAW-SIZE-INVALID",
        "Cỡ mẫu {n} (dự phòng {reserve}) không hợp lệ cho khung mẫu có {available} phần tử.",
        "Sample size {n} (reserve {reserve}) is not valid for a frame of {available} elements.",
        "Cỡ mẫu và số dự phòng phải là số nguyên không âm, tổng không vượt quá số phần tử có "
        "thể chọn.",
        "Sample and reserve sizes must be non-negative whole numbers whose sum does not exceed "
        "the selectable elements.",
    ),
    ErrorSpec(
        "DRAW-MEASURE-INVALID",
        "Quy mô của phần tử thứ {index} là '{value}', không hợp lệ.",
        "The size measure of element {index} is '{value}', which is not valid.",
        "Quy mô (ví dụ dân số) phải là số hữu hạn không âm.",
        "Size measures (e.g. population) must be finite and non-negative.",
    ),
    # -- unit crosswalks across the 2025 merger (sampling.crosswalk) ---------------------
    ErrorSpec(
        "XW-FILE-READ",
        "Không đọc được tệp bảng chuyển đổi: {detail}.",
        "Cannot read the crosswalk file: {detail}.",
        "Lưu tệp ở dạng CSV (UTF-8) hoặc XLSX, bắt đầu từ mẫu do lệnh units crosswalk-template "
        "tạo ra.",
        "Save the file as CSV (UTF-8) or XLSX, starting from the template that units "
        "crosswalk-template writes.",
    ),
    ErrorSpec(
        "XW-HEADER-MISSING",
        "Thiếu cột bắt buộc '{column}' ở dòng tiêu đề.",
        "The header row lacks the required column '{column}'.",
        "Dòng 1 phải có các cột: {required}.",
        "Row 1 must hold the columns: {required}.",
    ),
    ErrorSpec(
        "XW-EMPTY",
        "Ô '{column}' đang để trống.",
        "The '{column}' cell is empty.",
        "Điền mã đơn vị; ghi '-' ở new_code nếu đơn vị cũ không còn đơn vị kế thừa.",
        "Fill in the unit code; write '-' in new_code if the old unit has no successor.",
    ),
    ErrorSpec(
        "XW-CAMPAIGN-UNKNOWN",
        "Đợt khảo sát '{value}' không phải đợt trước được khai báo. Các đợt hợp lệ: {allowed}.",
        "Campaign '{value}' is not a declared predecessor. Valid campaigns: {allowed}.",
        "Ghi mã một đợt có trong predecessors của cấu hình.",
        "Write the code of a campaign listed under predecessors in the configuration.",
    ),
    ErrorSpec(
        "XW-OLD-UNKNOWN",
        "Đơn vị '{value}' không phải đơn vị của đợt {campaign}.",
        "Unit '{value}' is not a unit of campaign {campaign}.",
        "Dùng mã đơn vị trong danh sách đơn vị của đợt trước (xem mẫu bảng chuyển đổi).",
        "Use a unit code from the earlier campaign's unit list (see the crosswalk template).",
    ),
    ErrorSpec(
        "XW-OLD-MISSING",
        "Đơn vị '{value}' ({name}) của đợt {campaign} chưa có dòng nào trong bảng chuyển đổi.",
        "Unit '{value}' ({name}) of campaign {campaign} has no row in the crosswalk.",
        "Thêm ít nhất một dòng cho đơn vị này: đơn vị mới kế thừa nó, hoặc '-' nếu không có.",
        "Add at least one row for this unit: the new unit that continues it, or '-' if none.",
    ),
    ErrorSpec(
        "XW-NEW-UNKNOWN",
        "Đơn vị mới '{value}' không có trong danh sách đơn vị của đợt mới.",
        "New unit '{value}' is not in the new campaign's unit list.",
        "Dùng mã đơn vị của đợt khảo sát mới, hoặc '-' nếu đơn vị cũ không có đơn vị kế thừa.",
        "Use a unit code of the new campaign, or '-' if the old unit has no successor.",
    ),
    ErrorSpec(
        "XW-SHARE-FORMAT",
        "Tỷ lệ '{value}' không hợp lệ.",
        "The share '{value}' is not valid.",
        "Ghi một số lớn hơn 0 và không quá 1 (ví dụ 0.4 hoặc 0,4), hoặc để trống khi đơn vị cũ "
        "chuyển toàn bộ sang một đơn vị mới.",
        "Write a number above 0 and at most 1 (e.g. 0.4), or leave it empty when the old unit "
        "goes whole to one new unit.",
    ),
    ErrorSpec(
        "XW-SHARE-SUM",
        "Tỷ lệ của đơn vị '{value}' (đợt {campaign}) cộng lại bằng {total}, không bằng 1 "
        "(các dòng {rows}).",
        "The shares of unit '{value}' (campaign {campaign}) add up to {total}, not 1 "
        "(rows {rows}).",
        "Sửa tỷ lệ ở các dòng này để tổng bằng 1; khi đơn vị bị chia tách, mỗi dòng phải có "
        "tỷ lệ.",
        "Correct the shares on these rows so that they add up to 1; when a unit is split, "
        "every row needs a share.",
    ),
    ErrorSpec(
        "XW-DUPLICATE",
        "Cặp '{value}' → '{new}' (đợt {campaign}) lặp lại dòng {first}.",
        "The pair '{value}' → '{new}' (campaign {campaign}) repeats row {first}.",
        "Xóa dòng lặp hoặc gộp tỷ lệ vào một dòng.",
        "Delete the repeated row or add its share to the first one.",
    ),
    ErrorSpec(
        "CFG-PREDECESSOR-DUPLICATE",
        "Đợt khảo sát '{value}' xuất hiện nhiều lần trong 'predecessors'.",
        "Campaign '{value}' appears more than once under 'predecessors'.",
        "Mỗi đợt trước chỉ ghi một lần.",
        "List each earlier campaign once.",
    ),
    ErrorSpec(
        "CFG-PREDECESSOR-UNKNOWN",
        "Chưa có đợt khảo sát '{value}' trong hệ thống.",
        "Campaign '{value}' is not in the system.",
        "Nạp đợt khảo sát trước (par-survey campaign create) rồi nạp lại đợt này.",
        "Load the earlier campaign first (par-survey campaign create), then this one again.",
    ),
    ErrorSpec(
        "CFG-CROSSWALK-PATH",
        "Không dùng được tệp bảng chuyển đổi '{value}': {detail_vi}.",
        "Cannot use the crosswalk file '{value}': {detail_en}.",
        "Đặt tệp bảng chuyển đổi cạnh tệp cấu hình và ghi đường dẫn tương đối.",
        "Put the crosswalk file next to the configuration and give a relative path.",
    ),
)

ERROR_CODES: Final[Mapping[str, ErrorSpec]] = MappingProxyType({s.code: s for s in _SPECS})
"""All error codes with their message templates and suggested fixes, by code."""


def _render(code: str, params: Mapping[str, Any]) -> tuple[str, str]:
    spec = ERROR_CODES[code]
    return spec.message_vi.format(**params), spec.message_en.format(**params)


def _render_fix(code: str, params: Mapping[str, Any]) -> tuple[str, str]:
    spec = ERROR_CODES[code]
    try:
        return spec.fix_vi.format(**params), spec.fix_en.format(**params)
    except (KeyError, IndexError):
        # A fix that names a parameter the caller did not pass still reads fine raw.
        return spec.fix_vi, spec.fix_en


@dataclass(frozen=True, slots=True)
class ConfigError:
    """A located problem in a campaign configuration (or its units file).

    Attributes
    ----------
    code : str
        Key of :data:`ERROR_CODES`.
    file : str
        The file the problem is in, as given to the loader.
    path : str
        Location inside the file, e.g. ``groups[2].questionnaires[0]`` or, for a units
        table, ``row 5, parent_code``; empty for the whole file.
    message_vi, message_en : str
        What is wrong, in Vietnamese and English.
    line : int or None
        1-based line in the YAML source when known.
    fix_vi, fix_en : str
        How to fix it.
    """

    code: str
    file: str
    path: str
    message_vi: str
    message_en: str
    line: int | None = None
    fix_vi: str = ""
    fix_en: str = ""

    def __post_init__(self) -> None:
        if self.code not in ERROR_CODES:
            raise ValueError(f"unregistered error code {self.code!r}")

    @classmethod
    def make(
        cls, code: str, file: str, path: str, *, line: int | None = None, **params: Any
    ) -> ConfigError:
        """Build an error from the catalogue templates filled with ``params``."""
        vi, en = _render(code, params)
        fix_vi, fix_en = _render_fix(code, params)
        return cls(code, file, path, vi, en, line, fix_vi, fix_en)

    def format(self, lang: str = "en") -> str:
        """One line: ``file:line: path: [CODE] message Fix: ...`` in ``lang`` (vi or en)."""
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.path:
            where = f"{where}: {self.path}"
        if lang == "vi":
            return f"{where}: [{self.code}] {self.message_vi} Cách sửa: {self.fix_vi}"
        return f"{where}: [{self.code}] {self.message_en} Fix: {self.fix_en}"

    def __str__(self) -> str:
        return self.format("en")


@dataclass(frozen=True, slots=True)
class ListError:
    """A located problem in a respondent list.

    Attributes
    ----------
    code : str
        Key of :data:`ERROR_CODES`.
    file : str
        The uploaded file's name.
    row : int or None
        The row number as Excel shows it (header is row 1); ``None`` for the whole file.
    column : str or None
        The column header; ``None`` for a whole row or file.
    message_vi, message_en, fix_vi, fix_en : str
        What is wrong and how to fix it.
    """

    code: str
    file: str
    row: int | None
    column: str | None
    message_vi: str
    message_en: str
    fix_vi: str = ""
    fix_en: str = ""

    def __post_init__(self) -> None:
        if self.code not in ERROR_CODES:
            raise ValueError(f"unregistered error code {self.code!r}")

    @classmethod
    def make(
        cls, code: str, file: str, row: int | None = None, column: str | None = None,
        **params: Any,
    ) -> ListError:
        """Build an error from the catalogue templates filled with ``params``."""
        params.setdefault("column", column or "")
        vi, en = _render(code, params)
        fix_vi, fix_en = _render_fix(code, params)
        return cls(code, file, row, column, vi, en, fix_vi, fix_en)

    def format(self, lang: str = "en") -> str:
        """One line naming file, row and column, the problem and the fix, in ``lang``."""
        if lang == "vi":
            where = self.file
            if self.row is not None:
                where += f", dòng {self.row}"
            if self.column:
                where += f", cột {self.column}"
            return f"{where}: [{self.code}] {self.message_vi} Cách sửa: {self.fix_vi}"
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: [{self.code}] {self.message_en} Fix: {self.fix_en}"

    def __str__(self) -> str:
        return self.format("en")


class CampaignInvalid(Exception):
    """Raised by the campaign loader with every problem it found."""

    def __init__(self, errors: tuple[ConfigError, ...]) -> None:
        self.errors = errors
        head = "; ".join(str(e) for e in errors[:3])
        more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
        super().__init__(f"{len(errors)} configuration error(s): {head}{more}")


class DrawError(ValueError):
    """Raised for invalid sampling arguments; carries a catalogue code and both messages."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.message_vi, self.message_en = _render(code, params)
        super().__init__(f"[{code}] {self.message_en}")
