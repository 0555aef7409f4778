-- An application taken at a service centre is entered into its applicant's history at
-- its first status whether or not the applicant has an account here yet: the history is
-- kept by IIN, as the portal's «История получения услуг» lists whatever ИС МИО sent
-- about that person, so one who registers later finds it there with every status.
-- The portal's own drafts are still made only by a logged-in citizen.
alter table applications drop constraint applications_citizen_iin_fkey;
