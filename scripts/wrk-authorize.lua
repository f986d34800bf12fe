-- wrk script: POST /oauth/authorize/googledrive with a valid JSON body (used by scripts/bench).
-- The redirect URI must be on the server's ALLOWED_REDIRECT_URIS and googledrive must be enabled,
-- so every answer is a 200; `done` prints the count of other answers for scripts/bench to check.
wrk.method = "POST"
wrk.path = "/oauth/authorize/googledrive"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.body = os.getenv("AUTHORIZE_BODY") or '{"code_verifier":"bench-code-verifier-0123456789-abcdefghijklmnopqrstuvwxyz",'
    .. '"redirect_uri":"apuntador://oauth-callback","state":"bench-state"}'

done = function(summary, latency, requests)
    io.write(string.format("non_2xx_3xx_responses: %d\n", summary.errors.status))
end
