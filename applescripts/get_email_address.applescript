-- Looks up one person in Contacts and prints their email address.
-- argv: name. Matches the full name, then a first or last name, then part of a name;
-- several matches is an error listing them (never a silent first pick).
on run argv
	set wanted to item 1 of argv
	tell application "Contacts"
		set found to every person whose name is wanted
		if (count of found) is 0 then set found to every person whose first name is wanted
		if (count of found) is 0 then set found to every person whose last name is wanted
		if (count of found) is 0 then set found to every person whose name contains wanted
		if (count of found) is 0 then error "No contact named \"" & wanted & "\" in Contacts." number 1001
		if (count of found) > 1 then
			set names to {}
			repeat with aPerson in found
				set end of names to name of aPerson
			end repeat
			error ((count of found) as text) & " contacts match \"" & wanted & "\": " & my joinList(names, ", ") & ". Use the full name." number 1002
		end if
		set thePerson to item 1 of found
		if (count of emails of thePerson) is 0 then error (name of thePerson) & " has no email address in Contacts." number 1003
		repeat with anEntry in emails of thePerson
			if (label of anEntry as text) contains "mobile" then return value of anEntry
		end repeat
		return value of item 1 of emails of thePerson
	end tell
end run

on joinList(theItems, separator)
	set savedDelimiters to AppleScript's text item delimiters
	set AppleScript's text item delimiters to separator
	set joined to theItems as text
	set AppleScript's text item delimiters to savedDelimiters
	return joined
end joinList
