-- Creates a reminder.
-- argv: name, due ("YYYY-MM-DD HH:MM:SS" or ""), notes, list ("" = default list; a missing
-- list is created), priority (0-9), all day ("true"/"false").
on run argv
	set {theName, dueText, theNotes, listName, priorityText, allDayText} to argv
	tell application "Reminders"
		if listName is "" then
			set theList to default list
		else
			if not (exists list listName) then make new list with properties {name:listName}
			set theList to list listName
		end if
		set theProperties to {name:theName, body:theNotes, priority:(priorityText as integer)}
		if dueText is not "" then
			if allDayText is "true" then
				set theProperties to theProperties & {allday due date:my parseDate(dueText)}
			else
				set theProperties to theProperties & {due date:my parseDate(dueText)}
			end if
		end if
		make new reminder at end of reminders of theList with properties theProperties
		return "Created the reminder \"" & theName & "\" in " & (name of theList)
	end tell
end run

-- Dates arrive as "YYYY-MM-DD HH:MM:SS" and are built from their parts, because AppleScript's
-- own date parsing follows the user's locale.
on parseDate(isoText)
	set theDate to current date
	set day of theDate to 1
	set year of theDate to (text 1 thru 4 of isoText) as integer
	set month of theDate to (text 6 thru 7 of isoText) as integer
	set day of theDate to (text 9 thru 10 of isoText) as integer
	set hours of theDate to (text 12 thru 13 of isoText) as integer
	set minutes of theDate to (text 15 thru 16 of isoText) as integer
	set seconds of theDate to (text 18 thru 19 of isoText) as integer
	return theDate
end parseDate
