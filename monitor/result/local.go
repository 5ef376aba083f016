package result

// LocalVantage is the name of the daemon's own host among the vantages: in
// the config (where it is reserved), in a round's vantage lines and in the
// store's result rows. It lives here, the lowest package that every one of
// them imports, so the name is spelled once.
const LocalVantage = "local"
