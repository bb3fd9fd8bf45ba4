-- wrk script: OAuth2 password logins for the benchmark account.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=password&username=bench_user&password=benchmark%20passphrase"
