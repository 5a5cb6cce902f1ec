-- Opens a forward of the email selected in Mail, with our note above it.
-- argv: recipients (list), cc (list), body, attachments (list of POSIX paths).
on run argv
	set {recipientsText, ccText, theBody, attachmentsText} to argv
	tell application "Mail"
		set selectedMessages to selection
		if (count of selectedMessages) is 0 then error "No email is selected in Mail; select the email to forward and try again." number 1005
		set original to item 1 of selectedMessages
		set theForward to forward original with opening window
		delay 0.5 -- Mail fills in the forwarded message asynchronously
		tell theForward
			set content to theBody & return & return & content
			repeat with anAddress in my splitList(recipientsText)
				make new to recipient at end of to recipients with properties {address:(contents of anAddress)}
			end repeat
			repeat with anAddress in my splitList(ccText)
				make new cc recipient at end of cc recipients with properties {address:(contents of anAddress)}
			end repeat
			repeat with aPath in my splitList(attachmentsText)
				make new attachment with properties {file name:((POSIX file (contents of aPath)) as alias)} at after the last paragraph of content
			end repeat
		end tell
		activate
		return "Forward of \"" & (subject of original) & "\" is open in Mail, ready to send"
	end tell
end run

-- Lists arrive as one argument, items separated by ASCII 31 (unit separator); "" is an empty list.
on splitList(encoded)
	if encoded is "" then return {}
	set savedDelimiters to AppleScript's text item delimiters
	set AppleScript's text item delimiters to (character id 31)
	set theItems to text items of encoded
	set AppleScript's text item delimiters to savedDelimiters
	return theItems
end splitList
